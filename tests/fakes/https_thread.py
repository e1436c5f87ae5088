"""An HTTPS server for the python fakes (tests/fakes/local_sts.py, the OIDC
documents of tests/e2e/test_oidc.py): http.server's ThreadingHTTPServer over
TLS with the certificate it is given, serving on a thread of its own inside
a `with` block, stopped and joined (bounded) when the block ends."""

import http.server
import ssl
import threading


class HttpsThread:
    def __init__(self, handler, cert_file, key_file, address="127.0.0.1", port=0):
        self.server = http.server.ThreadingHTTPServer((address, port), handler)
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    @property
    def port(self):
        return self.server.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=10)
        self.server.server_close()
