"""Fetches the same 12 pages from the same local HTTP server (60 ms per
request) with the requests overlapped in a thread pool, as *High Performance
Python* ch. 8 does for a blocking library: the run waits about one request's
latency, not twelve (advise corpus: serial-io, fast)."""
import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.request import ProxyHandler, build_opener

LATENCY = 0.06  # seconds the server takes to answer each request
PAGES = 12
OPENER = build_opener(ProxyHandler({}))  # straight to 127.0.0.1, whatever the environment says


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the request threads: none outlives main()


class Page(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(LATENCY)
        body = (self.path + "\n").encode() * 40
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def fetch(url):
    with OPENER.open(url) as reply:
        return reply.read()


def crawl(urls):
    with ThreadPoolExecutor(max_workers=len(urls)) as pool:
        return list(pool.map(fetch, urls))  # in order, as the serial loop


def main():
    server = Server(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, args=(0.02,)).start()
    urls = [f"http://127.0.0.1:{server.server_port}/page/{i}" for i in range(PAGES)]
    pages = crawl(urls)
    server.shutdown()
    server.server_close()
    print(len(pages), sum(map(len, pages)), hashlib.sha256(b"".join(pages)).hexdigest()[:16])


main()
