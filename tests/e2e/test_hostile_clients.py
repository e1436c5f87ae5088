"""The real binary, default serving flags, under clients that stall, trickle
or frame requests ambiguously, over real TLS on 127.0.0.1: no such client
delays a normal review, and what two HTTP readers could read two ways is
refused with its status and the connection closed. Every wait is bounded."""

import json
import socket
import ssl
import time
import unittest

from webhook_fixture import WebhookTestCase, pod, review, service_account

SERVICE_ACCOUNTS = service_account("s3-reader", role="s3-reader")

POST = ("POST /mutate HTTP/1.1\r\nHost: irsa-webhook\r\n"
        "Content-Type: application/json\r\n")
HEALTH = "GET /healthz HTTP/1.1\r\nHost: irsa-webhook\r\n\r\n"


class HostileClients(WebhookTestCase):
    SERVICE_ACCOUNTS = SERVICE_ACCOUNTS

    def setUp(self):
        super().setUp()
        self.sockets = []
        self.start()

    def tearDown(self):
        for sock in self.sockets:
            sock.close()
        super().tearDown()

    def raw(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.sockets.append(sock)
        return sock

    def tls_socket(self):
        sock = self.tls.wrap_socket(self.raw(), server_hostname="localhost")
        self.sockets.append(sock)
        return sock

    def read_reply(self, sock, deadline_seconds=5.0):
        """One response (status line, headers, Content-Length body) as text."""
        data = b""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            head_end = data.find(b"\r\n\r\n")
            if head_end >= 0:
                head = data[:head_end].decode("latin-1")
                length = 0
                for line in head.split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                if len(data) >= head_end + 4 + length:
                    return data[:head_end + 4 + length].decode("utf-8", "replace")
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def closed_by_server(self, sock, within=5.0):
        sock.settimeout(within)
        try:
            for _ in range(100):
                if not sock.recv(65536):
                    return True
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False
        return False

    def test_stalled_handshakes_do_not_delay_a_review(self):
        # 300 connections that send the first 5 bytes of a TLS record and
        # stop: with a blocking server they hold every thread for the read
        # timeout (10 s by default).
        for _ in range(300):
            self.raw().sendall(b"\x16\x03\x01\x02\x00")
        begin = time.monotonic()
        response = self.admit(review(pod()))
        self.assertTrue(response["allowed"])
        self.assertIn("patch", response)
        status, _, body = self.request("GET", "/healthz", timeout=5)
        self.assertEqual((status, body), (200, b"ok\n"))
        # Well within the API server's 10 s webhook timeout (not a
        # benchmark: bench/hostile.py measures latency).
        self.assertLess(time.monotonic() - begin, 5.0)

    def test_slow_clients_do_not_delay_a_review(self):
        for _ in range(100):
            self.tls_socket().sendall((POST + "Content-Length: 100\r\n\r\n{").encode())
        for _ in range(100):
            self.tls_socket().sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Ty")
        response = self.admit(review(pod()))
        self.assertTrue(response["allowed"])

    def assert_refused(self, request, status, reason_part):
        sock = self.tls_socket()
        sock.sendall(request.encode("latin-1"))
        reply = self.read_reply(sock)
        self.assertTrue(reply.startswith(f"HTTP/1.1 {status} "), reply)
        self.assertIn("\r\nConnection: close\r\n", reply)
        self.assertIn(reason_part, reply)
        self.assertTrue(self.closed_by_server(sock), "the connection stayed open")

    def test_content_length_with_transfer_encoding_is_refused(self):
        # Read by Content-Length, the bytes after the body would be a second
        # request; read as chunked, they are part of the first.
        self.assert_refused(POST + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "0\r\n\r\n" + HEALTH, 400, "ambiguous")

    def test_differing_content_lengths_are_refused(self):
        self.assert_refused(POST + "Content-Length: 2\r\nContent-Length: 30\r\n\r\n{}", 400,
                            "Content-Length")

    def test_transfer_codings_other_than_chunked_are_refused(self):
        self.assert_refused(POST + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 501,
                            "identity")
        self.assert_refused(POST + "Transfer-Encoding: gzip\r\n\r\n", 501, "gzip")

    def test_header_count_and_size_are_limited(self):
        many = "".join(f"X-Header-{i}: v\r\n" for i in range(1000))
        self.assert_refused(POST + many + "\r\n", 431, "too many header fields")
        self.assert_refused(POST + "X-Big: " + "a" * 100000 + "\r\n\r\n", 431, "too large")

    def test_a_chunked_review_is_answered(self):
        body = json.dumps(review(pod())).encode()
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1000]), body[i:i + 1000])
                          for i in range(0, len(body), 1000))
        sock = self.tls_socket()
        sock.sendall(POST.encode() + b"Transfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n")
        reply = self.read_reply(sock)
        self.assertTrue(reply.startswith("HTTP/1.1 200 "), reply)
        answer = json.loads(reply.split("\r\n\r\n", 1)[1])
        self.assertTrue(answer["response"]["allowed"])
        self.assertIn("patch", answer["response"])
        # The connection goes on.
        sock.sendall(HEALTH.encode())
        self.assertTrue(self.read_reply(sock).startswith("HTTP/1.1 200 "))

    def test_a_body_over_the_limit_is_refused_before_it_is_read(self):
        self.assert_refused(POST + "Content-Length: 99999999\r\n\r\n", 413, "99999999")


if __name__ == "__main__":
    unittest.main()
