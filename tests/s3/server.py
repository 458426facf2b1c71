"""An S3-compatible server for the tests: moto in server mode, with request signatures checked.

    python tests/s3/server.py --bucket NAME [--bucket NAME...] [--port 0]

It creates an IAM user allowed s3:* with one access key and the buckets, turns moto's
authentication on (every request is then checked against that key's secret with SigV4:
a wrong secret is answered 403 SignatureDoesNotMatch; presigned URLs are checked here, see
Presigned), prints one JSON line
{"endpoint", "region", "access_key", "secret_key"} and serves on 127.0.0.1 until it is
terminated or its standard input closes. internal/blob's tests and tests/test_s3.py start it.
"""

import argparse
import datetime
import hashlib
import hmac
import io
import json
import os
import sys
import threading
from urllib.parse import parse_qsl, quote

# The conformance suite uploads parts of a few bytes; AWS refuses parts but the last under
# 5 MiB at CompleteMultipartUpload, so the suite could not run against that rule.
os.environ.setdefault("S3_UPLOAD_PART_MIN_SIZE", "1")

from moto import settings  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.iam.models import iam_backends  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.s3.models import s3_backends  # noqa: E402
from botocore.auth import S3SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

REGION = "us-east-1"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


class Presigned:
    """Checks presigned URLs (query-string SigV4), which moto cannot while its authentication
    is on, then passes the request on signed in its headers, as moto checks it.

    The signature is computed as S3 does: the canonical request of the method, the path as
    sent, the query without X-Amz-Signature, the signed headers and UNSIGNED-PAYLOAD; a wrong
    secret, a changed parameter or an expired URL is answered 403."""

    def __init__(self, app, access_key: str, secret_key: str):
        self.app, self.access_key, self.secret_key = app, access_key, secret_key

    def __call__(self, environ, start_response):
        query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        params = dict(query)
        if "X-Amz-Signature" not in params and "Signature" not in params:
            return self.app(environ, start_response)
        reason = self.refusal(environ, query, params) if "X-Amz-Signature" in params else "SigV2 is not supported"
        if reason:
            body = f"<Error><Code>SignatureDoesNotMatch</Code><Message>{reason}</Message></Error>".encode()
            start_response("403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))])
            return [body]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        payload = environ["wsgi.input"].read(length) if length else b""
        rest = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in query if not k.startswith("X-Amz-"))
        raw_path = environ.get("RAW_URI", environ.get("PATH_INFO", "")).split("?")[0]
        host = environ["HTTP_HOST"]
        req = AWSRequest(method=environ["REQUEST_METHOD"], url=f"http://{host}{raw_path}" + (f"?{rest}" if rest else ""),
                         data=payload, headers={"host": host})
        S3SigV4Auth(Credentials(self.access_key, self.secret_key), "s3", REGION).add_auth(req)
        environ["QUERY_STRING"] = rest
        environ["RAW_URI"] = environ["REQUEST_URI"] = raw_path + (f"?{rest}" if rest else "")
        environ["wsgi.input"] = io.BytesIO(payload)
        for k in ("Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"):
            environ["HTTP_" + k.upper().replace("-", "_")] = req.headers[k]
        return self.app(environ, start_response)

    def refusal(self, environ, query, params) -> str:
        try:
            key_id, date, region, service, _ = params["X-Amz-Credential"].split("/")
            when = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
            expires = int(params["X-Amz-Expires"])
            signed = params["X-Amz-SignedHeaders"].split(";")
        except (KeyError, ValueError):
            return "malformed presigned URL"
        if key_id != self.access_key:
            return "unknown access key"
        if datetime.datetime.now(datetime.timezone.utc) > when + datetime.timedelta(seconds=expires):
            return "expired"
        raw_path = environ.get("RAW_URI", environ.get("PATH_INFO", "")).split("?")[0]
        canonical_query = "&".join(sorted(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                                          for k, v in query if k != "X-Amz-Signature"))
        headers = "".join(f"{h}:{environ.get('HTTP_' + h.upper().replace('-', '_'), '').strip()}\n" for h in signed)
        canonical = "\n".join([environ["REQUEST_METHOD"], raw_path, canonical_query, headers, ";".join(signed),
                               "UNSIGNED-PAYLOAD"])
        scope = f"{date}/{region}/{service}/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", params["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + self.secret_key).encode()
        for part in (date, region, service, "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        want = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        return "" if hmac.compare_digest(want, params["X-Amz-Signature"]) else "signature does not match"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bucket", action="append", default=[])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()

    iam = iam_backends[DEFAULT_ACCOUNT_ID]["aws"]
    iam.create_user(REGION, "mlship-test")
    iam.put_user_policy("mlship-test", "s3", POLICY)
    key = iam.create_access_key("mlship-test")
    s3 = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for b in args.bucket:
        s3.create_bucket(b, REGION)
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0  # from now on every request is authenticated

    app = Presigned(DomainDispatcherApplication(create_backend_app), key.access_key_id, key.secret_access_key)
    server = make_server("127.0.0.1", args.port, app,
                         threaded=True, request_handler=MotoRequestHandler)
    host, port = server.server_address[:2]
    print(json.dumps({"endpoint": f"http://{host}:{port}", "region": REGION,
                      "access_key": key.access_key_id, "secret_key": key.secret_access_key}), flush=True)

    def watch_stdin() -> None:  # the parent is gone: stop
        sys.stdin.read()
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
