#!/usr/bin/env python3
"""A fake Hugging Face Hub and torchvision download server on 127.0.0.1, for tests/cli/test_hub.sh.
Python's standard library only (Debian's python3): no huggingface_hub, no network.

It speaks what downstream's runtime/hub/ (and huggingface_hub's hf_hub_download) relies on:
  HEAD|GET /{org}/{name}/resolve/{revision}/{file}
      revision "main" or the repository's commit (40 hex digits; else 404 RevisionNotFound);
      a regular file: 200, ETag "<git blob sha1>", X-Repo-Commit, Content-Length;
      an LFS file (*.safetensors, *.bin, *.pth): 302 to /cdn/<sha256> on the same server under
      another host name (localhost vs 127.0.0.1, so the client must drop its token), X-Linked-Etag
      "<sha256>", X-Linked-Size, X-Repo-Commit;
      a missing file: 404, X-Error-Code EntryNotFound, X-Repo-Commit;
      a missing repository: 401 X-Error-Code RepoNotFound (as the Hub answers anonymous callers);
      org "gated": 401 X-Error-Code GatedRepo unless "Authorization: Bearer good-token".
  GET /cdn/<sha256>      the blob, with Range (206); refuses an Authorization header (403).
  GET /models/<file>     torchvision checkpoints from ROOT/_torchvision/, with Range.
Faults, set by files in the state directory (so a test can switch them between runs):
  cut_after   "N": the first GET of each LFS blob sends N bytes and closes the connection
  corrupt     present: LFS blobs are served with their first byte flipped
Every request is appended to STATE/requests.log as "METHOD PATH RANGE AUTH".
The repositories are the folders ROOT/<org>/<name>/; each one's commit is the SHA-1 of its id.

usage: fake_hub.py ROOT STATE_DIR   (writes the port to STATE_DIR/port; exits after 300 s)
"""
import hashlib
import http.server
import os
import sys
import threading

ROOT, STATE = sys.argv[1], sys.argv[2]
LFS = (".safetensors", ".bin", ".pth")


def commit_of(repo):
    return hashlib.sha1(repo.encode()).hexdigest()


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def state(name):
    path = os.path.join(STATE, name)
    return open(path).read().strip() if os.path.exists(path) else None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cut_done = set()
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def record(self):
        with self.lock, open(os.path.join(STATE, "requests.log"), "a") as f:
            f.write("%s %s %s %s\n" % (self.command, self.path, self.headers.get("Range", "-"),
                                       "auth" if self.headers.get("Authorization") else "-"))

    def reply(self, status, headers=None, body=b""):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)) if "Content-Length" not in (headers or {}) else
                         headers["Content-Length"])
        self.end_headers()
        if self.command == "GET" and body:
            self.wfile.write(body)

    def send_file(self, data, lfs):
        """A whole file or its Range, cut or corrupted as the faults say."""
        if lfs and state("corrupt") is not None:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
            if start >= len(data):
                return self.reply(416, {"Content-Range": "bytes */%d" % len(data)})
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if self.command != "GET":
            return
        cut = state("cut_after")
        key = hashlib.sha256(data).hexdigest()
        if lfs and cut is not None and key not in self.cut_done:
            self.cut_done.add(key)
            self.wfile.write(body[:int(cut)])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def do_HEAD(self):
        self.handle_any()

    def do_GET(self):
        self.handle_any()

    def handle_any(self):
        self.record()
        parts = self.path.split("?")[0].strip("/").split("/")
        if parts[0] == "cdn" and len(parts) == 2:
            if self.headers.get("Authorization"):
                return self.reply(403, {"X-Error-Message": "the CDN must not see the token"})
            blob = self.find_blob(parts[1])
            return self.send_file(blob, True) if blob is not None else self.reply(404)
        if parts[0] == "models" and len(parts) == 2:
            path = os.path.join(ROOT, "_torchvision", parts[1])
            if not os.path.isfile(path):
                return self.reply(404)
            return self.send_file(open(path, "rb").read(), False)
        if len(parts) >= 5 and parts[2] == "resolve":
            return self.resolve(parts[0] + "/" + parts[1], parts[3], "/".join(parts[4:]))
        self.reply(404)

    def find_blob(self, sha):
        for dirpath, _, files in os.walk(ROOT):
            for f in files:
                data = open(os.path.join(dirpath, f), "rb").read()
                if hashlib.sha256(data).hexdigest() == sha:
                    return data
        return None

    def resolve(self, repo, revision, file):
        folder = os.path.join(ROOT, repo)
        if not os.path.isdir(folder) or repo.startswith("_"):
            return self.reply(401, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "Repository not found"})
        if repo.startswith("gated/") and self.headers.get("Authorization") != "Bearer good-token":
            return self.reply(401, {"X-Error-Code": "GatedRepo",
                                    "X-Error-Message": "Access to model %s is restricted" % repo})
        commit = commit_of(repo)
        if revision not in ("main", commit):
            return self.reply(404, {"X-Error-Code": "RevisionNotFound"})
        path = os.path.join(folder, file)
        if not os.path.isfile(path):
            return self.reply(404, {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": commit})
        data = open(path, "rb").read()
        if file.endswith(LFS):
            sha = hashlib.sha256(data).hexdigest()
            host, port = self.server.server_address[:2]
            other = "localhost" if self.headers.get("Host", "").startswith("127.") else "127.0.0.1"
            return self.reply(302, {"Location": "http://%s:%d/cdn/%s" % (other, port, sha), "X-Repo-Commit": commit,
                                    "X-Linked-Etag": '"%s"' % sha, "X-Linked-Size": str(len(data)),
                                    "ETag": '"%s"' % git_blob_sha1(b"lfs pointer " + data[:16])})
        self.send_response(200)
        self.send_header("ETag", '"%s"' % git_blob_sha1(data))
        self.send_header("X-Repo-Commit", commit)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with open(os.path.join(STATE, "port.tmp"), "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(os.path.join(STATE, "port.tmp"), os.path.join(STATE, "port"))
    timer = threading.Timer(300, server.shutdown)  # never outlives a test that forgot it
    timer.daemon = True
    timer.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
