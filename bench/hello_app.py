"""The yardstick of ``bench/api_throughput.py``: a bare Flask "hello", served by the same gunicorn settings."""

from flask import Flask

app = Flask(__name__)


@app.get("/hello")
def hello() -> str:
    return "Hello, World!"
