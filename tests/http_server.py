"""A local HTTP server for download tests, started on 127.0.0.1 by the test that needs it (and stopped by it)."""
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Mirror:
    """Serves `files` ({path: bytes}) as the Hugging Face Hub does: <base>/<path> redirects (302) to /cdn/<path>,
    which honours Range.

    Faults, per path: cut[path] = (bytes, times): close the connection after that many bytes of the file, that
    many times; fail[path] = (status, times): answer with that error status, that many times; html: answer with a
    web page; a path missing from files: 404. delay: seconds per 8 KiB sent.
    requests: (path, Range header or None) of every /cdn request, in order.
    """

    def __init__(self, files):
        self.files, self.cut, self.fail, self.html, self.delay, self.requests = dict(files), {}, {}, set(), 0.0, []
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path.startswith("/repo/"):
                    self.send_response(302)
                    self.send_header("Location", "/cdn/" + self.path[len("/repo/"):])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                path, asked = self.path[len("/cdn/"):], self.headers.get("Range")
                mirror.requests.append((path, asked))
                status, times = mirror.fail.get(path, (0, 0))
                if times > 0:
                    mirror.fail[path] = (status, times - 1)
                    return self.answer(status, b"error", "text/plain")
                if path in mirror.html:
                    return self.answer(200, b"<!DOCTYPE html><html><body>Please log in</body></html>", "text/html")
                if path not in mirror.files:
                    return self.answer(404, b"Entry not found", "text/plain")
                content, start = mirror.files[path], 0
                if asked:
                    start = int(asked.split("=")[1].split("-")[0])
                    if start >= len(content):
                        return self.answer(416, b"", "text/plain", {"Content-Range": f"bytes */{len(content)}"})
                self.send_response(206 if asked else 200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(content) - start))
                if asked:
                    self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
                self.end_headers()
                stop, times = mirror.cut.get(path, (len(content), 0))
                if times > 0:
                    mirror.cut[path] = (stop, times - 1)
                else:
                    stop = len(content)
                for offset in range(start, max(start, stop), 8192):
                    self.wfile.write(content[offset:min(offset + 8192, stop)])
                    time.sleep(mirror.delay)
                if stop < len(content):  # cut: end the connection in the middle of the file
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True

            def answer(self, status, body, kind, headers=()):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for key, value in dict(headers).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/repo"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def gets(self, path):
        return [asked for got, asked in self.requests if got == path]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
