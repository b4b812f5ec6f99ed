"""A small LTI 1.3 platform (an LMS) for the tests: its own RSA keys, its JWKS, an OAuth 2 token endpoint, AGS line
items and scores, an NRPS roster, all over HTTP on loopback, as the 1EdTech specs describe them.

It plays the platform's side of each exchange: ``login`` starts the OIDC third-party login at the tool and reads
back the state and nonce of the tool's authorization redirect; ``id_token`` signs a launch (resource link or deep
linking request); ``deep_link_receive`` verifies the tool's signed deep-linking answer against the tool's JWKS and
places the chosen item in a course with a line item of its own; ``scores`` lists what reached each line item.
``fail_scores`` makes the score endpoint answer 503 that many times (a platform that is down). For a browser,
``/course`` is a course page that frames the lab (``module=deep-link``: an instructor adding an activity),
``/auth`` the authorization endpoint that signs the launch, ``/deep-link-return`` takes the tool's answer.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
ROLE = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTRUCTOR = [ROLE + "Instructor"]
LEARNER = [ROLE + "Learner"]
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"


class SigningKey:
    def __init__(self, kid: str) -> None:
        self.kid = kid
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwk(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {**public, "kid": self.kid, "alg": "RS256", "use": "sig"}


@functools.cache
def platform_key() -> SigningKey:
    """The platform's signing key, made once per test run (an RSA key takes a noticeable fraction of a second)."""
    return SigningKey("platform-key-1")


@dataclass
class Placement:
    """A resource link the platform placed in a course (from a deep-linking answer)."""

    resource_link_id: str
    url: str
    custom: dict[str, str]
    lineitem_url: str


@dataclass
class TestPlatform:
    __test__ = False  # not a test class
    issuer: str = "https://lms.test.example"
    client_id: str = "nanochat-lab-client"
    deployment_id: str = "deployment-1"
    context_id: str = "course-ml-101"
    key: SigningKey = field(default_factory=lambda: platform_key())
    tool_jwks: Callable[[], dict[str, Any]] | None = None  # how the platform reads the tool's keys
    base_url: str = ""
    lab_url: str = "http://testserver"  # where the browser reaches the lab (the course page frames it)
    scores: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail_scores: int = 0
    jwks_fetches: int = 0
    roster: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    placements: list[Placement] = field(default_factory=list)

    # --- the platform's endpoints (served by ``serve``) ---------------------------------------------------------
    def handle(
        self, method: str, path: str, headers: Any, body: bytes, query: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any] | str]:
        query = query or {}
        if method == "GET" and path == "/course":
            return 200, self.course_page(query)
        if method == "GET" and path == "/auth":
            return 200, self.auth_answer(query)
        if method == "POST" and path == "/deep-link-return":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            placed = self.deep_link_receive(form["JWT"])
            return 200, (
                "<!doctype html><meta charset='utf-8'><p data-testid='placed' style='font-family:sans-serif'>"
                f"Added to the course: {placed.custom.get('module') or 'the whole route'}</p>"
            )
        if method == "GET" and path == "/jwks":
            self.jwks_fetches += 1
            return 200, {"keys": [self.key.jwk()]}
        if method == "POST" and path == "/token":
            form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
            assert self.tool_jwks is not None
            self.verify_tool_jwt(form["client_assertion"], audience=self.base_url + "/token")
            token = uuid.uuid4().hex
            self.tokens.add(token)
            return 200, {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": 3600,
                "scope": form["scope"],
            }
        if headers.get("Authorization", "").removeprefix("Bearer ") not in self.tokens:
            return 401, {"error": "invalid token"}
        if method == "POST" and path.startswith("/lineitems/") and path.endswith("/scores"):
            if headers.get("Content-Type") != "application/vnd.ims.lis.v1.score+json":
                return 415, {"error": "score media type expected"}
            if self.fail_scores > 0:
                self.fail_scores -= 1
                return 503, {"error": "down for maintenance"}
            lineitem = path.removesuffix("/scores")
            self.scores.setdefault(lineitem, []).append(json.loads(body))
            return 200, {}
        if method == "GET" and path == "/memberships":
            return 200, {"id": self.base_url + "/memberships", "members": self.roster}
        return 404, {"error": path}

    # --- the browser side: a course page framing the tool, and the OIDC authorization answer --------------------
    def course_page(self, query: dict[str, str]) -> str:
        """A course page with the lab in an iframe; the iframe starts the OIDC login (``lti_message_hint`` carries
        the module and locale, as a platform's own hint would identify the placement)."""
        params = urlencode(
            {
                "iss": self.issuer,
                "client_id": self.client_id,
                "login_hint": query.get("sub", "s-1"),
                "target_link_uri": self.lab_url + "/lti/launch/",
                "lti_deployment_id": query.get("deployment", self.deployment_id),
                "lti_message_hint": "|".join(
                    (
                        query.get("module", ""),
                        query.get("locale", "en"),
                        query.get("deployment", self.deployment_id),
                    )
                ),
            }
        )
        return (
            "<!doctype html><html><head><meta charset='utf-8'><title>Machine learning 101</title>"
            "<style>body{margin:0;font-family:sans-serif;background:#eef1f5}"
            "header{background:#2d3b45;color:#fff;padding:14px 24px;font-size:18px}"
            "iframe{display:block;margin:16px auto;width:calc(100% - 48px);height:760px;border:1px solid #c7cdd1;"
            "background:#fff}</style></head><body><header>Test LMS · Machine learning 101 · nanochat Lab</header>"
            f"<iframe name='tool' title='nanochat Lab' src='{self.lab_url}/lti/login/?{params}'></iframe>"
            "</body></html>"
        )

    def auth_answer(self, query: dict[str, str]) -> str:
        """The authorization endpoint: sign the launch and post it to the tool's redirect URI (in the iframe)."""
        module, locale, deployment = query.get("lti_message_hint", f"|en|{self.deployment_id}").split("|")
        placed = None  # the instructor's "add an activity": a deep-linking request
        if module != "deep-link":
            placed = Placement(
                resource_link_id=f"link-{module}",
                url=self.lab_url + "/lti/launch/",
                custom={"module": module},
                lineitem_url=f"{self.base_url}/lineitems/{module}",
            )
        roles = INSTRUCTOR if placed is None else LEARNER
        claims = self.claims(
            nonce=query["nonce"], sub=query["login_hint"], roles=roles, placement=placed, locale=locale
        )
        claims[CLAIM + "deployment_id"] = deployment
        token = self.id_token(claims)
        return (
            f"<!doctype html><form id='f' method='post' action='{query['redirect_uri']}'>"
            f"<input type='hidden' name='id_token' value='{token}'>"
            f"<input type='hidden' name='state' value='{query['state']}'></form>"
            "<script>document.getElementById('f').submit()</script>"
        )

    def verify_tool_jwt(self, token: str, *, audience: str) -> dict[str, Any]:
        assert self.tool_jwks is not None
        kid = jwt.get_unverified_header(token)["kid"]
        (key,) = [k for k in self.tool_jwks()["keys"] if k["kid"] == kid]
        return jwt.decode(
            token, RSAAlgorithm.from_jwk(json.dumps(key)), algorithms=["RS256"], audience=audience
        )

    # --- launches -----------------------------------------------------------------------------------------------
    def login(self, client: Any, *, login_hint: str = "user") -> tuple[str, str]:
        """The OIDC third-party login initiation; returns (state, nonce) from the tool's redirect."""
        response = client.post(
            "/lti/login/",
            {
                "iss": self.issuer,
                "client_id": self.client_id,
                "login_hint": login_hint,
                "target_link_uri": "http://testserver/lti/launch/",
                "lti_deployment_id": self.deployment_id,
            },
        )
        assert response.status_code == 302, response.content
        location = urlsplit(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == self.base_url + "/auth"
        query = {k: v[0] for k, v in parse_qs(location.query).items()}
        assert query["client_id"] == self.client_id and query["response_type"] == "id_token"
        assert query["redirect_uri"] == "http://testserver/lti/launch/"
        return query["state"], query["nonce"]

    def claims(
        self,
        *,
        nonce: str,
        sub: str,
        roles: list[str] | None,
        placement: Placement | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": sub,
            "iat": now,
            "exp": now + 300,
            "nonce": nonce,
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": f"{sub}@uni.example",
            CLAIM + "deployment_id": self.deployment_id,
            CLAIM + "version": "1.3.0",
            CLAIM + "context": {"id": self.context_id, "title": "Machine learning 101"},
            NRPS_CLAIM: {
                "context_memberships_url": self.base_url + "/memberships",
                "service_versions": ["2.0"],
            },
        }
        if roles is not None:
            claims[CLAIM + "roles"] = roles
        if placement is None:
            claims[CLAIM + "message_type"] = "LtiDeepLinkingRequest"
            claims[DL_CLAIM + "deep_linking_settings"] = {
                "deep_link_return_url": self.base_url + "/deep-link-return",
                "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"],
                "data": "dl-data-1",
            }
        else:
            claims[CLAIM + "message_type"] = "LtiResourceLinkRequest"
            claims[CLAIM + "target_link_uri"] = placement.url
            claims[CLAIM + "resource_link"] = {"id": placement.resource_link_id, "title": "nanochat"}
            claims[CLAIM + "custom"] = placement.custom
            claims[AGS_CLAIM] = {
                "scope": [SCORE_SCOPE, LINEITEM_SCOPE],
                "lineitems": self.base_url + "/lineitems",
                "lineitem": placement.lineitem_url,
            }
        claims.update(extra)
        return {k: v for k, v in claims.items() if v is not None}

    def id_token(self, claims: dict[str, Any], *, key: SigningKey | None = None) -> str:
        key = key or self.key
        return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})

    def launch(
        self,
        client: Any,
        *,
        sub: str,
        roles: list[str] | None,
        placement: Placement | None = None,
        key: SigningKey | None = None,
        **extra: Any,
    ) -> Any:
        """A whole launch: login initiation, then the signed id_token posted to the tool."""
        state, nonce = self.login(client, login_hint=sub)
        token = self.id_token(
            self.claims(nonce=nonce, sub=sub, roles=roles, placement=placement, **extra), key=key
        )
        return client.post("/lti/launch/", {"id_token": token, "state": state})

    def deep_link_receive(self, answer_jwt: str) -> Placement:
        """Take the tool's deep-linking answer: verify it, place its item in the course with a line item."""
        claims = self.verify_tool_jwt(answer_jwt, audience=self.issuer)
        assert claims["iss"] == self.client_id
        assert claims[CLAIM + "message_type"] == "LtiDeepLinkingResponse"
        assert claims[CLAIM + "deployment_id"] == self.deployment_id
        assert claims[DL_CLAIM + "data"] == "dl-data-1"
        (item,) = claims[DL_CLAIM + "content_items"]
        assert item["type"] == "ltiResourceLink"
        number = len(self.placements) + 1
        placement = Placement(
            resource_link_id=f"link-{number}",
            url=item["url"],
            custom=item.get("custom", {}),
            lineitem_url=f"{self.base_url}/lineitems/{number}",
        )
        self.placements.append(placement)
        return placement


@contextmanager
def serve(platform: TestPlatform) -> Iterator[TestPlatform]:
    """Serve ``platform``'s endpoints on a loopback port for the duration."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, payload = platform.handle(method, url.path, self.headers, body, query)
            html = isinstance(payload, str)
            data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/html; charset=utf-8" if html else "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            self._answer("POST")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    platform.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield platform
    finally:
        server.shutdown()
        server.server_close()
