"""The Python peer of `aetherveil bench webhook`.

A Google Cloud Functions (functions-framework) HTTP handler doing what a minimal Python GitHub
webhook receiver does on every delivery, and nothing more:

1. HMAC-SHA256 of the raw body with the shared secret, compared with `X-Hub-Signature-256`
   in constant time (`hmac.compare_digest`)  -> 401 when missing or wrong;
2. `json.loads` of the body                   -> 400 when it is not JSON;
3. 200 otherwise.

It does not deduplicate or store anything (Aetherveil also deduplicates by `X-GitHub-Delivery`
and commits each delivery to SQLite before answering). Any non-POST request answers 200, which
the benchmark uses as the readiness probe.

Run it with gunicorn (what `aetherveil bench webhook` does):

    AETHERVEIL_WEBHOOK_SECRET=... python3 -m gunicorn --workers 2 --threads 8 \
        --bind 127.0.0.1:8090 --chdir scripts/bench \
        "functions_framework:create_app(target='webhook', source='peer_webhook.py')"
"""

import hashlib
import hmac
import json
import os

import functions_framework

_SECRET = os.environ.get("AETHERVEIL_WEBHOOK_SECRET", "").encode()
if not _SECRET:
    raise RuntimeError("AETHERVEIL_WEBHOOK_SECRET is not set")


@functions_framework.http
def webhook(request):
    if request.method != "POST":
        return ("ok\n", 200)
    body = request.get_data(cache=False)
    expected = "sha256=" + hmac.new(_SECRET, body, hashlib.sha256).hexdigest()
    given = request.headers.get("X-Hub-Signature-256", "")
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return ("bad signature\n", 401)
    try:
        json.loads(body)
    except ValueError:  # json.JSONDecodeError and UnicodeDecodeError are both ValueErrors
        return ("bad json\n", 400)
    return ("ok\n", 200)
