"""JSON logs through structlog; event_id and lead_id ride along via contextvars."""

import hashlib
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# Digits joined by spaces, dashes or brackets (after `tel:` too); dotted groups (555.123.4567) separately, so
# addresses like 127.0.0.1 stay readable.
_PHONE = re.compile(r"(?:(?<=tel:)|(?<![\w.:]))\+?\(?\d[\d ()-]{7,}\d(?![\w.:])")
_DOTTED_PHONE = re.compile(r"(?<![\w.])\+?\d{1,4}(?:\.\d{2,4}){2,4}(?![\w.])")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
_PHONE_DIGITS = 9
# Credentials a URL can carry: a user's password (postgresql://user:pw@host) and tokens in the query string
# (Graph API's access_token, signatures, keys). httpx and SQLAlchemy put whole URLs into their error texts.
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/\s@]+@", re.IGNORECASE)
_SECRET_PARAM = re.compile(
    r"(?P<name>[?&](?:access_token|token|api_key|apikey|key|secret|client_secret|password|pwd|signature|sig"
    r"|appsecret_proof|code))=[^&#\s\"']*",
    re.IGNORECASE,
)


def scrub_credentials(text: str) -> str:
    """`text` with every URL's password and secret-bearing query parameters replaced by `***`."""
    text = _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)
    return _SECRET_PARAM.sub(lambda m: m.group("name") + "=***", text)


def redact(text: str) -> str:
    """Replace credentials in URLs by `***`, emails by a short hash (still joinable across lines) and phone numbers
    by a marker."""
    text = scrub_credentials(text)
    text = _EMAIL.sub(lambda m: "<email:" + hashlib.sha256(m.group().lower().encode()).hexdigest()[:10] + ">", text)
    text = _PHONE.sub(_phone, text)
    return _DOTTED_PHONE.sub(lambda m: m.group() if _IPV4.fullmatch(m.group()) else _phone(m), text)


def _phone(match: re.Match[str]) -> str:
    return "<phone>" if sum(c.isdigit() for c in match.group()) >= _PHONE_DIGITS else match.group()


def _redacted(value: Any, key: str) -> Any:
    # Ids are not personal: a provider's numeric id (a Meta leadgen id) would otherwise read as a phone number.
    if key == "timestamp" or key.endswith(("_id", "_ids")):
        return value
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return type(value)(_redacted(v, key) for v in value)
    return value


def redact_pii(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no email or phone number reaches a log line, whoever logs it, however deep in the
    event it sits (a dict of answers, a list of rows)."""
    for key, value in event.items():
        event[key] = _redacted(value, key)
    return event


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Route structlog and the standard library through one renderer."""
    shared_processors: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_pii,
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        # Filter first: a debug line below the level must not pay for timestamps and redaction.
        processors=[
            structlog.stdlib.filter_by_level,
            *shared_processors,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared_processors,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # aiokafka logs every rebalance and reconnect at INFO/WARNING; keep ours readable.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
