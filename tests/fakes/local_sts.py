"""A local AWS STS for tests: AssumeRoleWithWebIdentity and GetCallerIdentity
in STS's own wire format (AWS query protocol: a form-encoded POST in, XML out),
deciding as STS decides, independently of irsa-webhook's `explain`:

- the web identity token: its issuer names an OIDC provider of the account,
  its signature verifies (python3-jwcrypto) against the provider's JWKS, its
  audience is one of the provider's client IDs, it has not expired;
- the role's trust policy (IAM's JSON): an Allow statement whose Federated
  principal is the provider, whose action is sts:AssumeRoleWithWebIdentity
  and whose conditions on `<provider>:sub` / `<provider>:aud` hold, and no
  Deny that matches;
- GetCallerIdentity: SigV4 of the request checked against the temporary
  credentials this STS issued, with their session token.

Refusals carry STS's error codes and HTTP statuses (from the STS model that
the AWS SDKs ship): AccessDenied 403, InvalidIdentityToken 400,
ExpiredTokenException 400, ValidationError 400, InvalidClientTokenId 403,
SignatureDoesNotMatch 403. Every request is recorded (host, action, outcome)
(with the session name) for the test to inspect. Serves HTTPS with the certificate it is given."""

import base64
import datetime
import fnmatch
import hashlib
import hmac
import http.server
import json
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from https_thread import HttpsThread

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
SESSION_NAME = re.compile(r"[\w+=,.@-]*", re.ASCII)
# STS tolerates some clock skew on nbf/iat; AWS does not publish the figure.
CLOCK_SKEW = 300
SIGV4_SKEW = 900


class StsError(Exception):
    def __init__(self, status, code, message, sender=True):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.sender = sender


def access_denied():
    return StsError(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")


def invalid_token(message):
    return StsError(400, "InvalidIdentityToken", message)


class Provider:
    """An IAM OIDC identity provider: issuer URL, client IDs (audiences), JWKS."""

    def __init__(self, account, issuer, client_ids, jwks_json):
        self.issuer = issuer
        self.host_path = issuer.removeprefix("https://").rstrip("/")
        self.arn = f"arn:aws:iam::{account}:oidc-provider/{self.host_path}"
        self.client_ids = list(client_ids)
        self.keys = jwk.JWKSet.from_json(jwks_json)


class Role:
    def __init__(self, arn, trust_policy_json):
        self.arn = arn
        self.name = arn.split("/")[-1]
        self.policy = json.loads(trust_policy_json)


def as_list(value):
    return value if isinstance(value, list) else [value]


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class LocalSts:
    """The decisions, without HTTP: `handle(host, headers, body)` -> (status, xml)."""

    def __init__(self, account, providers, roles, clock=time.time):
        self.account = account
        self.providers = {p.host_path: p for p in providers}
        self.roles = {r.arn: r for r in roles}
        self.clock = clock
        self.credentials = {}  # access key id -> dict
        self.requests = []  # one dict per request: host, action, code (None when answered 200), ...
        self.lock = threading.Lock()

    # --- the wire --------------------------------------------------------------------------

    def handle(self, host, method, path, headers, body):
        record = {"host": host, "action": None, "code": None}
        with self.lock:
            self.requests.append(record)
        try:
            if method != "POST" or path.split("?")[0] != "/":
                raise StsError(400, "InvalidAction", "Only POST / is served here")
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            action = params.get("Action")
            record["action"] = action
            if params.get("Version") != "2011-06-15":
                raise StsError(400, "InvalidParameterValue", "Version must be 2011-06-15")
            if action == "AssumeRoleWithWebIdentity":
                record["session"] = params.get("RoleSessionName")
                result = self.assume_role_with_web_identity(params)
            elif action == "GetCallerIdentity":
                record["headers"] = dict(headers)
                record["body"] = body
                result = self.get_caller_identity(host, method, path, headers, body, record)
            else:
                raise StsError(400, "InvalidAction", f"Could not find operation {action}")
            return 200, self.response(action, result)
        except StsError as error:
            record["code"] = error.code
            record["message"] = error.message
            return error.status, self.error(error)

    def response(self, action, result):
        request_id = str(uuid.uuid4())
        return (f'<{action}Response xmlns="{NAMESPACE}">\n'
                f"  <{action}Result>\n{result}  </{action}Result>\n"
                f"  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n"
                f"</{action}Response>\n")

    def error(self, error):
        kind = "Sender" if error.sender else "Receiver"
        return (f'<ErrorResponse xmlns="{NAMESPACE}">\n'
                f"  <Error>\n    <Type>{kind}</Type>\n    <Code>{escape(error.code)}</Code>\n"
                f"    <Message>{escape(error.message)}</Message>\n  </Error>\n"
                f"  <RequestId>{uuid.uuid4()}</RequestId>\n</ErrorResponse>\n")

    # --- AssumeRoleWithWebIdentity ---------------------------------------------------------

    def assume_role_with_web_identity(self, params):
        role_arn = params.get("RoleArn", "")
        session_name = params.get("RoleSessionName", "")
        token = params.get("WebIdentityToken", "")
        self.validate(role_arn, session_name, token)
        claims = self.verify_token(token)
        provider = self.providers[claims["iss"].removeprefix("https://").rstrip("/")]
        role = self.roles.get(role_arn)
        if role is None or not self.trusts(role, provider, claims):
            raise access_denied()
        duration = int(params.get("DurationSeconds", "3600"))
        now = int(self.clock())
        access_key = "ASIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
        credentials = {
            "access_key": access_key,
            "secret": secrets.token_urlsafe(30)[:40],
            "session_token": base64.b64encode(secrets.token_bytes(96)).decode(),
            "expiration": now + duration,
            "session": session_name,
            "arn": f"arn:aws:sts::{self.account}:assumed-role/{role.name}/{session_name}",
            "user_id": f"AROA{hashlib.sha256(role.arn.encode()).hexdigest()[:17].upper()}:{session_name}",
        }
        with self.lock:
            self.credentials[access_key] = credentials
        expiration = datetime.datetime.fromtimestamp(credentials["expiration"], datetime.timezone.utc)
        audience = claims["aud"] if isinstance(claims["aud"], str) else claims["aud"][0]
        return ("    <Credentials>\n"
                f"      <AccessKeyId>{access_key}</AccessKeyId>\n"
                f"      <SecretAccessKey>{credentials['secret']}</SecretAccessKey>\n"
                f"      <SessionToken>{credentials['session_token']}</SessionToken>\n"
                f"      <Expiration>{expiration.strftime('%Y-%m-%dT%H:%M:%SZ')}</Expiration>\n"
                "    </Credentials>\n"
                f"    <SubjectFromWebIdentityToken>{escape(claims['sub'])}</SubjectFromWebIdentityToken>\n"
                "    <AssumedRoleUser>\n"
                f"      <Arn>{escape(credentials['arn'])}</Arn>\n"
                f"      <AssumedRoleId>{escape(credentials['user_id'])}</AssumedRoleId>\n"
                "    </AssumedRoleUser>\n"
                f"    <Provider>{escape(provider.arn)}</Provider>\n"
                f"    <Audience>{escape(audience)}</Audience>\n")

    @staticmethod
    def validate(role_arn, session_name, token):
        """STS's input constraints (its API model): what a client sends wrong is a ValidationError."""
        errors = []
        if len(session_name) > 64:
            errors.append(f"Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: "
                          "Member must have length less than or equal to 64")
        if len(session_name) < 2:
            errors.append(f"Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: "
                          "Member must have length greater than or equal to 2")
        if not SESSION_NAME.fullmatch(session_name):
            errors.append(f"Value '{session_name}' at 'roleSessionName' failed to satisfy constraint: "
                          "Member must satisfy regular expression pattern: [\\w+=,.@-]*")
        if len(role_arn) < 20:
            errors.append("Value at 'roleArn' failed to satisfy constraint: "
                          "Member must have length greater than or equal to 20")
        if len(token) < 4:
            errors.append("Value at 'webIdentityToken' failed to satisfy constraint: "
                          "Member must have length greater than or equal to 4")
        if errors:
            count = len(errors)
            raise StsError(400, "ValidationError",
                           f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(errors))

    def verify_token(self, token):
        parts = token.split(".")
        if len(parts) != 3:
            raise invalid_token("The web identity token that was passed could not be validated by AWS")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
        except ValueError as error:
            raise invalid_token("The web identity token that was passed could not be validated by AWS") from error
        issuer = claims.get("iss", "")
        provider = self.providers.get(issuer.removeprefix("https://").rstrip("/"))
        if provider is None or not issuer.startswith("https://"):
            raise invalid_token(f"No OpenIDConnect provider found in your account for {issuer}")
        if header.get("alg") not in ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512"):
            raise invalid_token("The web identity token that was passed could not be validated by AWS")
        key = provider.keys.get_key(header.get("kid")) if header.get("kid") else None
        if key is None:
            raise invalid_token("Couldn't retrieve verification key from your identity provider,  "
                                "please reference AssumeRoleWithWebIdentity documentation for requirements")
        try:
            signed = jws.JWS()
            signed.deserialize(token)
            signed.verify(key, alg=header["alg"])
        except JWException as error:
            raise invalid_token("The web identity token that was passed could not be validated by AWS") from error
        audiences = as_list(claims.get("aud", []))
        if not any(aud in provider.client_ids for aud in audiences):
            raise invalid_token("Incorrect token audience")
        now = int(self.clock())
        exp = claims.get("exp")
        if not isinstance(exp, int):
            raise invalid_token("The web identity token that was passed could not be validated by AWS")
        if now >= exp:
            raise StsError(400, "ExpiredTokenException",
                           f"Token expired: current date/time {now} must be before the expiration date/time{exp}")
        for name in ("nbf", "iat"):
            if isinstance(claims.get(name), int) and claims[name] > now + CLOCK_SKEW:
                raise invalid_token(f"Token {name} is in the future")
        if not isinstance(claims.get("sub"), str):
            raise invalid_token("The web identity token that was passed could not be validated by AWS")
        return claims

    def trusts(self, role, provider, claims):
        """IAM's evaluation for the AssumeRoleWithWebIdentity request: an explicit
        Deny wins, then some Allow must match; nothing matching is a denial."""
        values = {f"{provider.host_path}:sub": [claims["sub"]],
                  f"{provider.host_path}:aud": [a for a in as_list(claims["aud"]) if a in provider.client_ids]}
        allowed = False
        for statement in as_list(role.policy.get("Statement", [])):
            if not self.statement_matches(statement, provider, values):
                continue
            if statement.get("Effect") == "Deny":
                return False
            if statement.get("Effect") == "Allow":
                allowed = True
        return allowed

    @staticmethod
    def statement_matches(statement, provider, values):
        principal = statement.get("Principal", {})
        federated = as_list(principal.get("Federated", [])) if isinstance(principal, dict) else []
        if provider.arn not in federated:
            return False
        actions = as_list(statement.get("Action", []))
        if not any(fnmatch.fnmatchcase("sts:assumerolewithwebidentity", a.lower()) for a in actions):
            return False
        for operator, conditions in statement.get("Condition", {}).items():
            for key, wanted in conditions.items():
                present = values.get(key)
                if operator == "StringEquals":
                    ok = present is not None and any(v in as_list(wanted) for v in present)
                elif operator == "StringLike":
                    ok = present is not None and any(fnmatch.fnmatchcase(v, w) for v in present
                                                     for w in as_list(wanted))
                else:
                    # What this STS does not implement never allows.
                    ok = statement.get("Effect") == "Deny"
                if not ok:
                    return False
        return True

    # --- GetCallerIdentity -----------------------------------------------------------------

    def get_caller_identity(self, host, method, path, headers, body, record):
        credentials = self.check_sigv4(host, method, path, headers, body, record)
        return (f"    <Arn>{escape(credentials['arn'])}</Arn>\n"
                f"    <UserId>{escape(credentials['user_id'])}</UserId>\n"
                f"    <Account>{self.account}</Account>\n")

    def check_sigv4(self, host, method, path, headers, body, record):
        lower = {name.lower(): value for name, value in headers.items()}
        match = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([a-z0-9-]+)/sts/aws4_request, ?"
                             r"SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})",
                             lower.get("authorization", ""))
        if not match:
            raise StsError(403, "IncompleteSignature", "The request signature is missing or malformed")
        access_key, date, region, signed_headers, signature = match.groups()
        with self.lock:
            credentials = self.credentials.get(access_key)
        if credentials is not None:
            record["session"] = credentials["session"]
        if credentials is None or lower.get("x-amz-security-token") != credentials["session_token"]:
            raise StsError(403, "InvalidClientTokenId", "The security token included in the request is invalid.")
        if int(self.clock()) >= credentials["expiration"]:
            raise StsError(400, "ExpiredToken", "The security token included in the request is expired")
        expected_region = "us-east-1" if host == "sts.amazonaws.com" else host.split(".")[1]
        if region != expected_region:
            raise StsError(403, "SignatureDoesNotMatch",
                           f"Credential should be scoped to a valid region, not '{region}'")
        amz_date = lower.get("x-amz-date", "")
        try:
            signed_at = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError as error:
            raise StsError(403, "IncompleteSignature", "X-Amz-Date is missing or malformed") from error
        if abs(signed_at.timestamp() - self.clock()) > SIGV4_SKEW or not amz_date.startswith(date):
            raise StsError(403, "SignatureDoesNotMatch", "Signature expired or not of today")
        names = signed_headers.split(";")
        if "host" not in names or "x-amz-date" not in names:
            raise StsError(403, "SignatureDoesNotMatch", "host and x-amz-date must be signed")
        canonical_headers = "".join(f"{n}:{' '.join(lower.get(n, '').split())}\n" for n in names)
        path_only, _, query = path.partition("?")
        canonical_query = "&".join(sorted(query.split("&"))) if query else ""
        canonical = "\n".join([method, path_only, canonical_query, canonical_headers, signed_headers,
                               hashlib.sha256(body).hexdigest()])
        scope = f"{date}/{region}/sts/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        key = ("AWS4" + credentials["secret"]).encode()
        for part in (date, region, "sts", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise StsError(403, "SignatureDoesNotMatch",
                           "The request signature we calculated does not match the signature you provided.")
        return credentials


class StsServer(HttpsThread):
    """LocalSts over HTTPS on (address, port), each connection in its own thread."""

    def __init__(self, sts, address, port, cert_file, key_file):
        self.sts = sts
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def do_POST(self):  # pylint: disable=invalid-name
                length = int(self.headers.get("Content-Length", "0"))
                if length > 1 << 20:
                    self.send_error(413)
                    return
                body = self.rfile.read(length)
                host = self.headers.get("Host", "").split(":")[0]
                status, text = outer.sts.handle(host, "POST", self.path, dict(self.headers.items()), body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):  # pylint: disable=invalid-name
                status, text = outer.sts.handle(self.headers.get("Host", ""), "GET", self.path,
                                                dict(self.headers.items()), b"")
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        super().__init__(Handler, cert_file, key_file, address, port)
