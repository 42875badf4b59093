"""Checks of the container files that need no Docker: infra/compose.yaml against the vendored
Compose Specification schema plus what the schema cannot know (files, ports, references), the
Dockerfile's shape (stages, non-root user, health check, admin assets), and that every VANE_*
variable the compose file and the CDK template set is one the vane binary reads (the generated
configuration reference in docs/deploy.md).

usage: check_containers.py ROOT [CDK_TEMPLATE]"""

import json
import re
import sys
from pathlib import Path

import jsonschema
import yaml

# Variables read outside clap, so absent from the generated reference.
EXTRA_VARIABLES = {
    "VANE_LOG_FORMAT": "src/main.rs: JSON logs",
    "VANE_HEALTH_URL": "infra/Dockerfile: the URL its HEALTHCHECK probes",
    "VANE_BOOTSTRAP_ADMIN_PASSWORD": "core-api: the first admin's password (read beside --bootstrap-admin)",
    "VANE_CORE_ADMIN_DIR": "core-api: the built admin UI (admin/dist) it serves under /admin/",
}
VANE_COMMANDS = {"core", "sync", "analytics", "edge", "up"}

errors: list[str] = []


def error(message: str) -> None:
    errors.append(message)


def known_variables(root: Path) -> set[str]:
    reference = (root / "docs/deploy.md").read_text(encoding="utf-8")
    names = set(re.findall(r"\| `(VANE_[A-Z0-9_]+)` \|", reference))
    if len(names) < 20:
        error(f"docs/deploy.md's configuration reference lists only {len(names)} variables")
    return names | set(EXTRA_VARIABLES)


def check_compose(root: Path, variables: set[str]) -> None:
    path = root / "infra/compose.yaml"
    schema = json.loads((root / "infra/schema/compose-spec.json").read_text(encoding="utf-8"))
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    for e in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
        error(f"compose.yaml {'/'.join(map(str, e.path)) or '(root)'}: {e.message}")
    services = document.get("services", {})
    for required in ["postgres", "core", "analytics", "sync", "edge"]:
        if required not in services:
            error(f"compose.yaml: no service {required}")
    declared_secrets = set(document.get("secrets", {}))
    declared_volumes = set(document.get("volumes", {}))
    for name, service in services.items():
        where = f"compose.yaml services.{name}"
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                error(f"{where}: port {port} is published on every interface (use 127.0.0.1:)")
        for dep in service.get("depends_on", {}):
            if dep not in services:
                error(f"{where}: depends on unknown service {dep}")
        for secret in service.get("secrets", []):
            if (secret if isinstance(secret, str) else secret["source"]) not in declared_secrets:
                error(f"{where}: unknown secret {secret}")
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                if not (path.parent / source).exists():
                    error(f"{where}: mounted file {source} does not exist")
            elif source not in declared_volumes:
                error(f"{where}: unknown volume {source}")
        if "build" in service:
            dockerfile = path.parent / service["build"]["context"] / service["build"]["dockerfile"]
            if not dockerfile.exists():
                error(f"{where}: no Dockerfile at {dockerfile}")
        if service.get("image", "").startswith("vane:"):
            command = service.get("command", [])
            if not command or command[0] not in VANE_COMMANDS:
                error(f"{where}: command {command} is no vane subcommand")
            if service.get("user", "0").split(":")[0] in ("0", "root"):
                error(f"{where}: runs as root")
            environment = service.get("environment", {})
            for variable in environment:
                if variable.startswith("VANE_") and variable not in variables:
                    error(f"{where}: vane reads no variable {variable}")
            health = environment.get("VANE_HEALTH_URL", "")
            listen = next((v for k, v in environment.items() if k.endswith("_LISTEN")), "")
            if listen and health and listen.rsplit(":", 1)[1] not in health:
                error(f"{where}: health check {health} is not on the listen port {listen}")
        elif "healthcheck" not in service:
            error(f"{where}: no health check")
    for name, secret in document.get("secrets", {}).items():
        if "file" in secret and not secret["file"].startswith("./secrets/"):
            error(f"compose.yaml secrets.{name}: keep secret files under infra/secrets/ (git-ignored)")


def check_dockerfile(root: Path) -> None:
    text = (root / "infra/Dockerfile").read_text(encoding="utf-8")
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    stages = [l for l in lines if l.upper().startswith("FROM ")]
    if len(stages) < 3:
        error(f"Dockerfile: {len(stages)} stages; expected admin, build and runtime stages")
    final = text[text.rfind("\nFROM "):]
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    if not users or users[-1].split(":")[0] in ("0", "root"):
        error("Dockerfile: the runtime stage does not end as a non-root USER")
    if not re.search(r"^HEALTHCHECK\s", final, re.M):
        error("Dockerfile: the runtime stage has no HEALTHCHECK")
    if not re.search(r"^COPY --from=admin /src/admin/dist ", final, re.M):
        error("Dockerfile: the runtime stage does not include the admin UI (admin/dist)")
    if "cargo build --locked --release --bin vane" not in text:
        error("Dockerfile: the binary is not built with --locked --release")
    if not re.search(r"^FROM (debian:[a-z0-9.-]*slim|gcr.io/distroless/)", final.strip(), re.M):
        error("Dockerfile: the runtime base is neither a slim Debian nor distroless image")
    ignore = (root / ".dockerignore").read_text(encoding="utf-8").split()
    for needed in ["target", ".git", "**/node_modules"]:
        if needed not in ignore:
            error(f".dockerignore: {needed} is not excluded from the build context")


def check_task_definitions(template_path: Path, variables: set[str]) -> None:
    template = json.loads(template_path.read_text(encoding="utf-8"))
    seen = 0
    for resource in template["Resources"].values():
        if resource["Type"] != "AWS::ECS::TaskDefinition":
            continue
        for container in resource["Properties"]["ContainerDefinitions"]:
            names = [e["Name"] for e in container.get("Environment", [])] + [s["Name"] for s in container.get("Secrets", [])]
            for name in names:
                seen += 1
                if name.startswith("VANE_") and name not in variables:
                    error(f"CDK task {container['Name']}: vane reads no variable {name}")
            if container.get("Command", [""])[0] not in VANE_COMMANDS:
                error(f"CDK task {container['Name']}: command {container.get('Command')} is no vane subcommand")
    if seen == 0:
        error("the CDK template has no container variables to check")


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    variables = known_variables(root)
    check_compose(root, variables)
    check_dockerfile(root)
    if len(sys.argv) > 2:
        check_task_definitions(Path(sys.argv[2]), variables)
    for e in errors:
        print(f"check_containers: {e}", file=sys.stderr)
    if errors:
        return 1
    print("check_containers: compose.yaml valid against the Compose Specification schema; Dockerfile, variables and task definitions consistent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
