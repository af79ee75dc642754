"""Strip secrets from any text the library prints, raises or records.

Why: SDK errors quote request URLs (SAS tokens in `sig=`), headers (`Authorization: Bearer`),
connection strings (`AccountKey=`) and server addresses (`MLFLOW_TRACKING_URI` with a password
in it); a build log is read by many more people than the workspace's key vault. Everything
leaving through an error message, the step's stderr, the CLI's stdout and stderr or the decision
record passes through `redact` first.
"""

from __future__ import annotations

import re

REDACTED = "***"
_PATTERNS = [
    # SAS token signatures and other signed query strings
    (re.compile(r"(?i)([?&](?:sig|se|skoid|sktid|skv|st|sv)=)[^&\s'\"]+"), r"\1" + REDACTED),
    # Authorization headers, in a dict repr or a raw header line
    (
        re.compile(
            r"(?i)(['\"]?authorization['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+|basic\s+)?"
            r"[^\s'\",}]+"
        ),
        r"\1" + REDACTED,
    ),
    # storage connection strings and account keys
    (
        re.compile(r"(?i)((?:accountkey|sharedaccesskey|account_key)\s*[=:]\s*['\"]?)[^;\s'\",}]+"),
        r"\1" + REDACTED,
    ),
    # service principal secrets, passwords, generic secret/token keys
    (
        re.compile(
            r"(?i)(['\"]?(?:client_?secret|password|secret|token|api_?key)['\"]?"
            r"\s*[=:]\s*['\"]?)[^\s'\",&}]+"
        ),
        r"\1" + REDACTED,
    ),
    # bare JWTs (AML run tokens, AAD access tokens)
    (re.compile(r"\beyJ[\w-]{5,}\.[\w-]{5,}\.[\w-]{5,}"), REDACTED),
    # a URL's userinfo (`http://alice:S3cret@host`, `https://TOKEN@host`): the whole of it, as
    # a user name alone is often the token
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@'\"<>]+@"), r"\1" + REDACTED + "@"),
]


# For each pattern, words one of which every match contains (in lower case; the JWT pattern's is
# the case-sensitive `eyJ`). An ASCII text holding none of them cannot match, so it is not
# scanned: scanning a decision record with all five patterns costs about a millisecond. A text
# that is not ASCII is scanned by every pattern (case-insensitive matching of other scripts
# does not follow str.lower).
_WORDS: list[tuple[str, ...]] = [
    ("sig=", "se=", "skoid=", "sktid=", "skv=", "st=", "sv="),
    ("authorization",),
    ("accountkey", "sharedaccesskey", "account_key"),
    ("secret", "password", "token", "apikey", "api_key"),
    (),  # JWTs: `eyJ`, checked case-sensitively below
    ("://",),
]


def redact(text: str) -> str:
    # Which patterns can match is decided on the text as given (lowered once): a replacement
    # never creates another pattern's trigger word, it only puts REDACTED where a secret was.
    lower = text.lower() if text.isascii() else None
    for (pattern, replacement), words in zip(_PATTERNS, _WORDS, strict=True):
        if lower is not None and not (any(w in lower for w in words) if words else "eyJ" in text):
            continue
        text = pattern.sub(replacement, text)
    return text
