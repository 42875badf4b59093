"""A local stand-in for Cloudflare's Workers KV REST API (v4), for end-to-end tests on 127.0.0.1.

It answers the calls `vane sync`'s Cloudflare target makes, checks that each has the shape
Cloudflare documents, and applies every accepted write to the *local* KV of `wrangler dev`
(`wrangler kv bulk put/key put/bulk delete --local --persist-to DIR`), so that the worker
running under workerd reads what sync wrote. Values are also kept in memory to answer reads.

Checked (a violation answers 400 with a Cloudflare error envelope and is recorded):
  * `Authorization: Bearer <token>`; the account and namespace ids in the path;
  * bulk write `PUT .../bulk`: `Content-Type: application/json`, a JSON array of 1..10,000
    objects with string `key` (1..512 bytes) and string `value` (<= 25 MiB), optional
    `expiration`, `expiration_ttl`, `metadata`, `base64`, nothing else;
  * single write `PUT .../values/{key}` (key percent-encoded as one path segment);
  * key listing `GET .../keys?prefix=&limit=&cursor=` (limit 10..1000), cursor-paginated;
  * bulk delete `POST .../bulk/delete`: a JSON array of key names;
  * Vane's protocol on top: a snapshot `vane/{env}/snapshots/{n}` is a JSON snapshot of that
    environment and version, and the pointer `vane/{env}/current` may only name a version
    whose snapshot was written before it (bulk write first, then the pointer).

Every request is appended to --log as one JSON line: {"seq", "method", "op", "keys", "status"}
(and "value" for single-key writes of at most 64 bytes, such as pointers).
Violations go to --violations, one per line.

Usage: python3 cf_kv_standin.py --account A --namespace N --token T --port-file F --log L
         --violations V --wrangler BIN --wrangler-config wrangler.toml --persist-to DIR
"""

import argparse
import http.server
import json
import os
import re
import subprocess
import tempfile
import threading
import urllib.parse

MAX_BULK = 10_000
MAX_KEY_BYTES = 512
MAX_VALUE_BYTES = 25 * 1024 * 1024
BULK_FIELDS = {"key", "value", "expiration", "expiration_ttl", "metadata", "base64"}
POINTER = re.compile(r"^vane/([^/]+)/current$")
SNAPSHOT = re.compile(r"^vane/([^/]+)/snapshots/(\d+)$")


class Rejected(Exception):
    pass


class Store:
    def __init__(self, args):
        self.args = args
        self.values = {}
        self.lock = threading.Lock()
        self.seq = 0

    def record(self, method, op, keys, status, value=None):
        self.seq += 1
        entry = {"seq": self.seq, "method": method, "op": op, "keys": keys, "status": status}
        if value is not None:
            entry["value"] = value
        with open(self.args.log, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def violation(self, message):
        with open(self.args.violations, "a") as f:
            f.write(message + "\n")

    def wrangler(self, *command):
        """Runs `wrangler kv ... --local --persist-to DIR` and fails loudly if it fails."""
        argv = [self.args.wrangler, "kv", *command, "--binding", "VANE_KV", "--local",
                "--persist-to", self.args.persist_to, "--config", self.args.wrangler_config]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {done.stdout}{done.stderr}")

    def check_protocol(self, key, value):
        """Vane's write order and snapshot shape."""
        m = SNAPSHOT.match(key)
        if m:
            try:
                doc = json.loads(value)
            except ValueError:
                raise Rejected(f"{key}: the value is not JSON")
            if doc.get("environment") != m.group(1) or doc.get("version") != int(m.group(2)):
                raise Rejected(f"{key}: holds environment {doc.get('environment')!r} "
                               f"version {doc.get('version')!r}")
        m = POINTER.match(key)
        if m:
            if not value.isdigit():
                raise Rejected(f"{key}: the pointer {value!r} is not a version number")
            snapshot = f"vane/{m.group(1)}/snapshots/{value}"
            if snapshot not in self.values:
                raise Rejected(f"{key} = {value} written before its snapshot {snapshot}")

    def bulk_put(self, body, content_type):
        if content_type.split(";")[0].strip() != "application/json":
            raise Rejected(f"bulk write with Content-Type {content_type!r}, not application/json")
        try:
            items = json.loads(body)
        except ValueError:
            raise Rejected("bulk write body is not JSON")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK:
            raise Rejected(f"bulk write body is not an array of 1..{MAX_BULK} pairs")
        pairs = []
        for item in items:
            if not isinstance(item, dict) or set(item) - BULK_FIELDS:
                raise Rejected(f"bulk item with unknown fields: {item!r:.200}")
            key, value = item.get("key"), item.get("value")
            if not isinstance(key, str) or not isinstance(value, str):
                raise Rejected(f"bulk item without string key and value: {item!r:.200}")
            if not 1 <= len(key.encode()) <= MAX_KEY_BYTES or len(value.encode()) > MAX_VALUE_BYTES:
                raise Rejected(f"key or value out of limits: {key!r:.100}")
            self.check_protocol(key, value)
            pairs.append((key, value))
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump([{"key": k, "value": v} for k, v in pairs], f)
        try:
            self.wrangler("bulk", "put", f.name)
        finally:
            os.unlink(f.name)
        self.values.update(pairs)
        return [k for k, _ in pairs]

    def put_value(self, key, body):
        if not 1 <= len(key.encode()) <= MAX_KEY_BYTES:
            raise Rejected(f"bad key {key!r:.100}")
        try:
            value = body.decode()
        except UnicodeDecodeError:
            raise Rejected(f"{key}: the value is not UTF-8 text")
        self.check_protocol(key, value)
        with tempfile.NamedTemporaryFile("wb", delete=False) as f:
            f.write(body)
        try:
            self.wrangler("key", "put", key, "--path", f.name)
        finally:
            os.unlink(f.name)
        self.values[key] = value

    def bulk_delete(self, body):
        try:
            keys = json.loads(body)
        except ValueError:
            raise Rejected("bulk delete body is not JSON")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) \
                or not 1 <= len(keys) <= MAX_BULK:
            raise Rejected("bulk delete body is not an array of 1..10000 key names")
        for k in keys:
            if POINTER.match(k):
                raise Rejected(f"sync deletes the pointer {k}")
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(keys, f)
        try:
            self.wrangler("bulk", "delete", f.name, "--force")
        finally:
            os.unlink(f.name)
        for k in keys:
            self.values.pop(k, None)
        return keys


def envelope(result):
    return {"success": True, "errors": [], "messages": [], "result": result}


def make_handler(store, args):
    prefix = ["", "client", "v4", "accounts", args.account, "storage", "kv", "namespaces",
              args.namespace]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *_):
            pass

        def send(self, status, body, content_type="application/json"):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def error(self, status, code, message):
            self.send(status, {"success": False, "errors": [{"code": code, "message": message}],
                               "messages": [], "result": None})

        def handle_any(self, method):
            url = urllib.parse.urlsplit(self.path)
            segments = url.path.split("/")
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            with store.lock:
                if self.headers.get("authorization") != f"Bearer {args.token}":
                    store.record(method, "auth", [], 403)
                    store.violation(f"{method} {url.path}: missing or wrong bearer token")
                    return self.error(403, 10000, "Authentication error")
                if segments[:len(prefix)] != prefix:
                    store.record(method, "path", [], 400)
                    store.violation(f"{method} {url.path}: unknown account, namespace or route")
                    return self.error(400, 10000, f"no such route {url.path}")
                rest = segments[len(prefix):]
                op, keys = f"{method} {'/'.join(rest[:1])}", []
                value = None
                try:
                    if method == "PUT" and rest == ["bulk"]:
                        op = "bulk-put"
                        keys = store.bulk_put(body, self.headers.get("content-type", ""))
                        answer = envelope({"successful_key_count": len(keys),
                                           "unsuccessful_keys": []})
                    elif method == "POST" and rest == ["bulk", "delete"]:
                        op = "bulk-delete"
                        keys = store.bulk_delete(body)
                        answer = envelope({"successful_key_count": len(keys),
                                           "unsuccessful_keys": []})
                    elif method == "PUT" and len(rest) == 2 and rest[0] == "values":
                        op = "put"
                        keys = [urllib.parse.unquote(rest[1])]
                        store.put_value(keys[0], body)
                        if len(body) <= 64:
                            value = body.decode(errors="replace")
                        answer = envelope({})
                    elif method == "GET" and len(rest) == 2 and rest[0] == "values":
                        op = "get"
                        keys = [urllib.parse.unquote(rest[1])]
                        value = store.values.get(keys[0])
                        store.record(method, op, keys, 200 if value is not None else 404)
                        if value is None:
                            return self.error(404, 10009, "get: 'key not found'")
                        return self.send(200, value.encode(), "application/octet-stream")
                    elif method == "GET" and rest == ["keys"]:
                        op = "list"
                        answer = self.list_keys(urllib.parse.parse_qs(url.query))
                    else:
                        raise Rejected(f"no such route {method} {url.path}")
                except Rejected as e:
                    store.record(method, op, keys, 400, value)
                    store.violation(f"{method} {url.path}: {e}")
                    return self.error(400, 10000, str(e))
                except Exception as e:  # wrangler failed: a server error sync retries
                    store.record(method, op, keys, 500)
                    return self.error(500, 10001, str(e))
                store.record(method, op, keys, 200, value)
                return self.send(200, answer)

        def list_keys(self, query):
            limit = int(query.get("limit", ["1000"])[0])
            if not 10 <= limit <= 1000:
                raise Rejected(f"list limit {limit} (10..1000 allowed)")
            prefix = query.get("prefix", [""])[0]
            start = int(query.get("cursor", ["0"])[0] or 0)
            names = sorted(k for k in store.values if k.startswith(prefix))
            # Pages of at most 2 names, so that clients must follow the cursor.
            page = names[start:start + min(limit, 2)]
            cursor = str(start + len(page)) if start + len(page) < len(names) else ""
            result = envelope([{"name": n} for n in page])
            result["result_info"] = {"count": len(page), "cursor": cursor}
            return result

        def do_GET(self):
            self.handle_any("GET")

        def do_PUT(self):
            self.handle_any("PUT")

        def do_POST(self):
            self.handle_any("POST")

        def do_DELETE(self):
            self.handle_any("DELETE")

    return Handler


def main():
    p = argparse.ArgumentParser()
    for name in ("account", "namespace", "token", "port-file", "log", "violations", "wrangler",
                 "wrangler-config", "persist-to"):
        p.add_argument(f"--{name}", required=True)
    args = p.parse_args()
    store = Store(args)
    open(args.log, "a").close()
    open(args.violations, "a").close()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(store, args))
    with open(args.port_file, "w") as f:
        f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
