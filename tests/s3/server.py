"""An S3-compatible server for the tests: moto in server mode, with request signatures checked.

    python tests/s3/server.py --bucket NAME [--bucket NAME...] [--port 0]

It creates an IAM user allowed s3:* with one access key and the buckets, turns moto's
authentication on (every request is then checked against that key's secret with SigV4:
a wrong secret is answered 403 SignatureDoesNotMatch), prints one JSON line
{"endpoint", "region", "access_key", "secret_key"} and serves on 127.0.0.1 until it is
terminated or its standard input closes. internal/blob's tests and tests/test_s3.py start it.
"""

import argparse
import json
import os
import sys
import threading

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
from werkzeug.serving import make_server  # noqa: E402

REGION = "us-east-1"
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


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

    server = make_server("127.0.0.1", args.port, DomainDispatcherApplication(create_backend_app),
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
