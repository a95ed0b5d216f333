"""The floor of ``bench/api_throughput.py``: the least an authenticated read of one record can cost on this stack.

Flask, SQLAlchemy Core on psycopg and the same PostgreSQL database, served by the same gunicorn settings:
``GET /floor/<id>`` checks the bearer token in one query (unrevoked, unexpired, active user: the checks
InsureCRM makes) and reads the policyholder in a second, then answers its columns as JSON. No ORM, no schema,
no scope rule, no audit of anything: what InsureCRM adds to this is the price of what it guarantees.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

from flask import Flask, abort, jsonify, request
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine(os.environ["INSURECRM_DATABASE_URL"])
TOKEN_USER = text("SELECT users.id FROM users JOIN api_tokens ON api_tokens.user_id = users.id "
                  "WHERE api_tokens.token_hash = :token_hash AND api_tokens.revoked_at IS NULL "
                  "AND api_tokens.expires_at > :now AND users.active")
RECORD = text("SELECT * FROM policyholders WHERE id = :id")


@app.get("/floor/<int:record_id>")
def floor(record_id: int):
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    with engine.connect() as connection:
        user = connection.execute(TOKEN_USER, {"token_hash": hashlib.sha256(token.encode()).hexdigest(),
                                               "now": datetime.now(UTC)}).first()
        if user is None:
            abort(401)
        row = connection.execute(RECORD, {"id": record_id}).mappings().first()
    if row is None:
        abort(404)
    return jsonify({key: value if isinstance(value, int | bool | None) else str(value) for key, value in row.items()})
