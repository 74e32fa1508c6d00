#!/usr/bin/env python3
"""Writes tests/data/detectors.jsonl: the guard's labelled set (issue #16).

One JSON object a line: {"tier", "class", "kinds", "context", "text", "value"}.
- tier: "core" or "extended" (targets: core recall and precision >= 99%, extended recall >= 90%),
  or "telemetry" (the vendor-agnostic high-entropy last line, judged on redact_all's output).
- class: "pii" or "secret"; kinds: the kinds/rule ids that must be found, [] for a hard negative.
- context: text, json, json_ascii (non-ASCII as \\u escapes, as Python's json.dumps writes), url,
  shell or env. text: the whole input. value: the sensitive (or look-alike) part.

Formats follow what public scanners document: gitleaks' rules and their tests, TruffleHog's
detectors, Presidio's recognisers (SSN context words and invalid numbers), and vendors' token
docs. Every value is generated, format-valid and never real: the seed makes the file the same on
every run. `python3 scripts/gen_detector_cases.py`
"""
import json
import random
import zlib
from pathlib import Path

R = random.Random(16)
AN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
HEX = "0123456789abcdef"
UP = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LOW = "abcdefghijklmnopqrstuvwxyz0123456789"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
URLSAFE = AN + "_-"
LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def f(n, cs=AN):
    return "".join(R.choice(cs) for _ in range(n))


def b62(n, width=6):
    out = ""
    while n:
        out = B62[n % 62] + out
        n //= 62
    return out.rjust(width, "0")


def gh(prefix):
    body = f(30)
    return f"{prefix}_{body}{b62(zlib.crc32(body.encode()))}"


# the structured tokens draw from their own generator, so that adding them left every other
# case of the file as it was
R2 = random.Random(1601)


def f2(n, cs=AN):
    return "".join(R2.choice(cs) for _ in range(n))


def b64url(b):
    import base64
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def pypi_token():
    """A PyPI token: `pypi-` and a binary V2 macaroon (location pypi.org, an identifier, a
    caveat, the 32-byte signature last), base64url, as PyPI issues them."""
    f(70, URLSAFE)  # what the unstructured form drew from R
    ident = f2(36, HEX).encode()
    caveat = json.dumps({"version": 1, "permissions": "user"}).encode()
    m = bytes([2, 1, 8]) + b"pypi.org" + bytes([2, len(ident)]) + ident + bytes([0])
    m += bytes([2, len(caveat)]) + caveat + bytes([0, 0, 6, 32]) + bytes(R2.randrange(256) for _ in range(32))
    return "pypi-" + b64url(m)


def jwt():
    """A JWT: its header a JSON object with `alg` (RFC 7515 makes it mandatory)."""
    f(40, URLSAFE)  # what the fixed-header form drew from R
    header = R2.choice([{"alg": "HS256", "typ": "JWT"}, {"alg": "RS256", "kid": f2(8)}, {"typ": "JWT", "alg": "ES256"}])
    claims = {"sub": f2(12), "iat": R2.randint(1_600_000_000, 1_800_000_000)}
    return b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode()) + "." + f(43, URLSAFE)


def gh_bad(prefix):
    tok = gh(prefix)
    last = tok[-1]
    return tok[:-1] + ("A" if last != "A" else "B")


cases = []


def add(tier, cls, kinds, context, text, value):
    cases.append({"tier": tier, "class": cls, "kinds": kinds, "context": context, "text": text, "value": value})


def contexts(value, key="TOKEN"):
    """The same value in the five contexts agents' prompts carry it in."""
    return [
        ("text", f"here it is: {value} -- thanks"),
        ("json", json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": f"use {value} for the deploy"}]})),
        ("url", f"GET https://api.internal.example/v1/hook?{key.lower()}={value}&retry=1"),
        ("shell", f"$ export {key}='{value}' && ./deploy.sh"),
        ("env", f"# service config\n{key}={value}\nLOG_LEVEL=debug\n"),
    ]


def pos(tier, cls, kind, value, key="TOKEN", only=None):
    for ctx, text in contexts(value, key):
        if only and ctx not in only:
            continue
        add(tier, cls, [kind], ctx, text, value)


def neg(tier, cls, value, only=("text", "json", "env")):
    for ctx, text in contexts(value):
        if ctx in only:
            add(tier, cls, [], ctx, text, value)


# ---------------------------------------------------------------- secrets, core (vendor shapes)
VENDOR = {
    "aws-access-key-id": lambda: "AKIA" + f(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"),
    "github-pat": lambda: gh("ghp"),
    "github-oauth": lambda: gh("gho"),
    "github-app-token": lambda: gh(R.choice(["ghu", "ghs"])),
    "github-refresh-token": lambda: gh("ghr"),
    "github-fine-grained-pat": lambda: "github_pat_" + f(22) + "_" + f(59),
    "gitlab-pat": lambda: "glpat-" + f(20, URLSAFE),
    "gitlab-pipeline-trigger-token": lambda: "glptt-" + f(40, HEX),
    "gitlab-runner-registration-token": lambda: "GR1348941" + f(20, URLSAFE),
    "gitlab-runner-authentication-token": lambda: R.choice(["glrt-" + f(20, AN), "glrt-t1_" + f(27, AN) + "." + f(2, LOW) + f(7, LOW)]),
    "gitlab-deploy-token": lambda: "gldt-" + f(20, AN),
    "gitlab-cicd-job-token": lambda: "glcbt-" + f(2, HEX) + "_" + f(20, AN),
    "gitlab-feed-token": lambda: "glft-" + f(20, AN),
    "gitlab-incoming-mail-token": lambda: "glimt-" + f(25, AN),
    "gitlab-kubernetes-agent-token": lambda: "glagent-" + f(50, AN),
    "gitlab-oauth-app-secret": lambda: "gloas-" + f(64, AN),
    "gitlab-scim-token": lambda: "glsoat-" + f(20, AN),
    "gitlab-feature-flag-client-token": lambda: "glffct-" + f(20, AN),
    "vault-service-token": lambda: "hvs." + f(R.choice([24, 91, 95]), URLSAFE),
    "vault-batch-token": lambda: "hvb." + f(R.choice([138, 150]), URLSAFE),
    "heroku-api-key-v2": lambda: "HRKU-AA" + f(58, URLSAFE),
    "slack-bot-token": lambda: f"xoxb-{f(11, '0123456789')}-{f(12, '0123456789')}-{f(24)}",
    "slack-user-token": lambda: f"xoxp-{f(11, '0123456789')}-{f(11, '0123456789')}-{f(12, '0123456789')}-{f(32, HEX)}",
    "slack-app-token": lambda: f"xapp-1-A{f(10, UP)}-{f(13, '0123456789')}-{f(64, HEX)}",
    "slack-webhook-url": lambda: f"https://hooks.slack.com/services/T{f(8, UP)}/B{f(8, UP)}/{f(24)}",
    "stripe-access-token": lambda: R.choice(["sk_live_", "rk_live_", "sk_test_"]) + f(R.choice([24, 99])),
    "openai-api-key": lambda: R.choice(["sk-proj-" + f(156, URLSAFE), "sk-svcacct-" + f(64, URLSAFE), f"sk-{f(20)}T3BlbkFJ{f(20)}"]),
    "anthropic-api-key": lambda: "sk-ant-api03-" + f(93, URLSAFE) + "AA",
    "gcp-api-key": lambda: "AIza" + f(35, URLSAFE),
    "google-oauth-client-secret": lambda: "GOCSPX-" + f(28, URLSAFE),
    "azure-storage-account-key": lambda: "AccountKey=" + f(86, B64) + "==",
    "azure-ad-client-secret": lambda: f(3) + R.choice("0123456789") + "Q~" + f(34, AN + "_~."),
    "npm-access-token": lambda: gh("npm"),
    "pypi-upload-token": pypi_token,
    "huggingface-access-token": lambda: "hf_" + f(34, LETTERS),
    "huggingface-organization-api-token": lambda: "api_org_" + f(34, LETTERS),
    "twilio-api-key": lambda: "SK" + f(32, HEX),
    "sendgrid-api-token": lambda: "SG." + f(22, URLSAFE) + "." + f(43, URLSAFE),
    "databricks-api-token": lambda: "dapi" + f(32, HEX),
    "shopify-access-token": lambda: "shpat_" + f(32, HEX),
    "shopify-custom-access-token": lambda: "shpca_" + f(32, HEX),
    "shopify-private-app-access-token": lambda: "shppa_" + f(32, HEX),
    "shopify-shared-secret": lambda: "shpss_" + f(32, HEX),
    "mailgun-private-api-token": lambda: "key-" + f(32, HEX),
    "mailchimp-api-key": lambda: f(32, HEX) + "-us" + str(R.randint(1, 21)),
    "doppler-api-token": lambda: "dp.pt." + f(43),
    "digitalocean-pat": lambda: "dop_v1_" + f(64, HEX),
    "digitalocean-access-token": lambda: "doo_v1_" + f(64, HEX),
    "digitalocean-refresh-token": lambda: "dor_v1_" + f(64, HEX),
    "linear-api-key": lambda: "lin_api_" + f(40),
    "postman-api-token": lambda: "PMAK-" + f(24, HEX) + "-" + f(34, HEX),
    "atlassian-api-token": lambda: "ATATT3" + f(186, URLSAFE),
    "square-access-token": lambda: "sq0atp-" + f(22, URLSAFE),
    "telegram-bot-api-token": lambda: f(9, "123456789") + ":AA" + f(33, URLSAFE),
    "hashicorp-tf-api-token": lambda: f(14, LOW) + ".atlasv1." + f(67, LOW),
    "grafana-service-account-token": lambda: "glsa_" + f(32) + "_" + f(8, HEX),
    "grafana-cloud-api-token": lambda: "glc_" + f(60, AN) + "=",
    "age-secret-key": lambda: "AGE-SECRET-KEY-1" + f(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"),
    "new-relic-user-api-key": lambda: "NRAK-" + f(27, UP),
    "sentry-org-token": lambda: "sntrys_eyJpYXQiO" + f(80, URLSAFE),
    "sentry-user-token": lambda: "sntryu_" + f(64, HEX),
    "groq-api-key": lambda: "gsk_" + f(52),
    "xai-api-key": lambda: "xai-" + f(80),
    "perplexity-api-key": lambda: "pplx-" + f(48),
    "openrouter-api-key": lambda: "sk-or-v1-" + f(64, HEX),
    "langsmith-api-key": lambda: "lsv2_" + R.choice(["pt", "sk"]) + "_" + f(32, HEX) + "_" + f(10, HEX),
    "replicate-api-token": lambda: "r8_" + f(37),
    "tavily-api-key": lambda: "tvly-" + R.choice(["", "dev-", "prod-"]) + f(32),
    "supabase-access-token": lambda: "sbp_" + f(40, HEX),
    "supabase-secret-key": lambda: "sb_secret_" + f(31, URLSAFE),
    "pulumi-api-token": lambda: "pul-" + f(40, HEX),
    "1password-service-account-token": lambda: "ops_eyJ" + f(300, AN + "+/"),
    "rubygems-api-token": lambda: "rubygems_" + f(48, HEX),
    "planetscale-api-token": lambda: "pscale_tkn_" + f(43, URLSAFE),
    "planetscale-password": lambda: "pscale_pw_" + f(43, URLSAFE),
    "dockerhub-pat": lambda: "dckr_pat_" + f(27, URLSAFE),
    "notion-api-token": lambda: "ntn_" + f(11, "0123456789") + f(35),
    "jwt": jwt,
}
for rule, gen in VENDOR.items():
    for _ in range(2):
        value = gen()
        if rule == "azure-storage-account-key":
            # the rule's group is the key after `AccountKey=`
            pos("core", "secret", rule, value, only=("text", "json", "shell"))
        else:
            pos("core", "secret", rule, value)
    # hard negatives for every vendor rule: a placeholder, the prefix and 6 characters, the prefix in prose
    v = gen()
    # the vendor's literal prefix: what five values have in common
    samples = [gen() for _ in range(5)]
    common = 0
    while all(len(x) > common and x[common] == samples[0][common] for x in samples):
        common += 1
    head = v[:max(common, 2)]
    neg("core", "secret", head + "X" * (len(v) - len(head)))
    neg("core", "secret", v[: len(head) + 6])
    add("core", "secret", [], "text", f"Tokens of this kind start with {head.rstrip('_-.')} and are long; never paste one here.", head)
for prefix in ["ghp", "gho", "ghu", "ghs", "ghr", "npm"]:
    for _ in range(3):
        neg("core", "secret", gh_bad(prefix))
# documented structures broken: a JWT header without `alg` or not JSON; random text after
# PyPI's prefix, or a macaroon whose signature field is missing
for _ in range(3):
    claims = b64url(json.dumps({"sub": f2(12)}).encode())
    neg("core", "secret", b64url(json.dumps({"typ": "JWT", "kid": f2(6)}).encode()) + "." + claims + "." + f2(43, URLSAFE))
    neg("core", "secret", "eyJ" + f2(30, URLSAFE) + "." + claims + "." + f2(43, URLSAFE))
    neg("core", "secret", "pypi-AgEIcHlwaS5vcmc" + f2(70, URLSAFE))
    neg("core", "secret", "pypi-" + b64url(bytes([2, 1, 8]) + b"pypi.org" + bytes([2, 36]) + f2(36, HEX).encode() + bytes([0, 0]) + f2(40).encode()))
# the PEM header in prose, and a whole key
for _ in range(4):
    neg("core", "secret", "-----BEGIN RSA PRIVATE KEY----- line opens a key file; paste yours after it.", only=("text", "json"))
for kind in ["RSA ", "EC ", "OPENSSH ", "", "ENCRYPTED "]:
    body = "\n".join(f(64, B64) for _ in range(4))
    key = f"-----BEGIN {kind}PRIVATE KEY-----\n{body}\n-----END {kind}PRIVATE KEY-----"
    add("core", "secret", ["private-key"], "text", f"my key:\n{key}\n", key)
    add("core", "secret", ["private-key"], "json", json.dumps({"type": "service", "private_key": key}), key)

# ---------------------------------------------------------------- secrets, extended (context)
for scheme in ["postgres", "postgresql", "mysql", "mongodb", "mongodb+srv", "redis", "rediss", "amqp", "amqps", "mariadb", "https"]:
    for _ in range(3):
        pw = f(R.choice([12, 16, 24]), AN + "!*_~")
        user = R.choice(["app", "admin", "svc_orders", "default", ""])
        host = R.choice(["db.internal.example", "10.0.3.7", "cache.prod.example.com", "cluster0.ab1cd.mongodb.net"])
        url = f"{scheme}://{user}:{pw}@{host}:5432/app"
        pos("extended", "secret", "connection-string-password", url, key="DATABASE_URL", only=("text", "json", "shell", "env"))
    for placeholder in ["${DB_PASSWORD}", "<password>", "****", "password", "$PGPASSWORD"]:
        neg("extended", "secret", f"{scheme}://app:{placeholder}@db.internal.example:5432/app")
    neg("extended", "secret", f"{scheme}://db.internal.example:5432/app")
for _ in range(12):
    tok = f(R.choice([24, 32, 40, 48]), AN + "._-")
    word = R.choice(["Bearer", "Bearer", "Token", "Basic"])
    q = R.choice(['"', "'"])
    cmd = f"curl -s https://api.vendor.example/v2/items -H {q}Authorization: {word} {tok}{q} -H 'Accept: application/json'"
    add("extended", "secret", ["curl-auth-header"], "shell", cmd, tok)
    add("extended", "secret", ["curl-auth-header"], "json", json.dumps({"messages": [{"role": "user", "content": f"why does this fail?\n{cmd}"}]}), tok)
    user, pw = R.choice(["admin", "deploy", "jane"]), f(R.choice([10, 14, 20]), AN + "!#%")
    cmd = f"curl -u {user}:{pw} https://ci.example.org/api/json"
    add("extended", "secret", ["curl-auth-user"], "shell", cmd, pw)
    add("extended", "secret", ["curl-auth-user"], "text", f"I ran `curl --user {user}:{pw} -X POST https://ci.example.org/build` and it 401s", pw)
for neg_cmd in ['curl -H "Authorization: Bearer $TOKEN" https://api.example.com', "curl -H 'Authorization: Bearer <your-token>' https://api.example.com",
                "curl -H 'Authorization: Bearer YOUR_ACCESS_TOKEN' https://api.example.com", "docker run -u 1000:1000 -v $PWD:/src image",
                "git push -u origin feature/login", "curl -u admin https://ci.example.org/api/json", "curl -u \"$USER:$PASS\" https://ci.example.org"]:
    for ctx in ["shell", "json"]:
        add("extended", "secret", [], ctx, neg_cmd if ctx == "shell" else json.dumps({"content": neg_cmd}), neg_cmd)
for _ in range(8):
    sk = f(40, B64)
    for ctx, text in [("env", f"AWS_ACCESS_KEY_ID=AKIA{f(16, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567')}\nAWS_SECRET_ACCESS_KEY={sk}\n"),
                      ("text", f"[default]\naws_secret_access_key = {sk}\nregion = eu-west-1"),
                      ("json", json.dumps({"Credentials": {"SecretAccessKey": sk, "SessionToken": "x"}}))]:
        add("extended", "secret", ["aws-secret-access-key"], ctx, text, sk)
    pw = f(14, AN + "!#%&*")
    for ctx, text in [("env", f"DB_PASSWORD={pw}\n"), ("json", json.dumps({"config": {"password": pw}})), ("text", f"password: {pw}")]:
        add("extended", "secret", ["generic-password"], ctx, text, pw)
    key = f(32)
    for ctx, text in [("env", f"API_KEY={key}\n"), ("json", json.dumps({"client_secret": key})), ("shell", f"export ACCESS_TOKEN={key}")]:
        add("extended", "secret", ["generic-api-key"], ctx, text, key)
for text in ["password: ********", "DB_PASSWORD=${DB_PASSWORD}", "the password field must be at least 8 characters", "api_key: YOUR_API_KEY_HERE",
             "set api_key to your key; see docs", "AWS_SECRET_ACCESS_KEY=XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"]:
    add("extended", "secret", [], "text", text, text)

# ---------------------------------------------------------------- PII


def luhn_complete(prefix, length):
    digits = prefix + "".join(R.choice("0123456789") for _ in range(length - len(prefix) - 1))
    for d in "0123456789":
        cand = digits + d
        total = 0
        for i, c in enumerate(reversed(cand)):
            v = int(c)
            if i % 2 == 1:
                v *= 2
                v -= 9 if v > 9 else 0
            total += v
        if total % 10 == 0:
            return cand
    raise AssertionError


CARDS = [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15), ("37", 15), ("6011", 16), ("65", 16), ("3530", 16), ("36", 14), ("62", 16), ("4", 19)]


def card():
    p, n = R.choice(CARDS)
    return luhn_complete(p, n)


def grouped(d, sep):
    if len(d) == 15:
        parts = [d[:4], d[4:10], d[10:]]
    elif len(d) == 14:
        parts = [d[:4], d[4:10], d[10:]]
    else:
        parts = [d[i:i + 4] for i in range(0, len(d), 4)]
    return sep.join(parts)


def ssn():
    while True:
        a, g, s = R.randint(1, 899), R.randint(1, 99), R.randint(1, 9999)
        d = f"{a:03}{g:02}{s:04}"
        if a != 666 and d not in ("123456789", "078051120", "219099999", "457555462") and len(set(d)) > 1:
            return f"{a:03}", f"{g:02}", f"{s:04}"


def iban(cc, bban):
    rearranged = bban + cc + "00"
    num = "".join(str(int(c, 36)) for c in rearranged)
    check = 98 - int(num) % 97
    return f"{cc}{check:02}{bban}"


FIRST = ["jane", "john.smith", "a.b", "maria_garcia", "li.wei", "o'neil".replace("'", ""), "dev+alerts", "k.tanaka", "sam-ops", "first.last"]
DOMAINS = ["example.com", "corp.io", "mail.co.uk", "uni.edu", "startup.ai", "company.de", "agency.gov", "shop.store", "dept.example.org", "team.dev"]
for _ in range(30):
    e = f"{R.choice(FIRST)}{R.randint(1, 99)}@{R.choice(DOMAINS)}"
    pos("core", "pii", "email", e, key="CONTACT")
for _ in range(10):
    pos("core", "pii", "phone", R.choice(["(415) 555-{:04}", "415-555-{:04}", "415.555.{:04}", "+1 415 555 {:04}", "1-212-555-{:04}", "+1 (646) 555-{:04}"]).format(R.randint(1000, 9999)), only=("text", "json", "env"))
    pos("core", "pii", "phone", R.choice(["+44 20 7946 {:04}", "+49 30 1234{:04}", "+33 1 23 45 {:02} 89", "+61 4 1234 {:04}", "+81 3 1234 {:04}"]).format(R.randint(10, 99) if False else R.randint(1000, 9999)).replace("+33 1 23 45 ", "+33 1 23 45 ")[:20], only=("text", "json"))
for _ in range(12):
    a, g, s = ssn()
    pos("core", "pii", "ssn", f"{a}-{g}-{s}", key="SSN", only=("text", "json", "env"))
for _ in range(16):
    d = card()
    pos("core", "pii", "credit_card", grouped(d, R.choice([" ", "-", ""])), key="CARD", only=("text", "json", "env"))
for cc, bban in [("GB", "WEST12345698765432"), ("DE", "370400440532013000"), ("FR", "20041010050500013M02606"), ("NL", "ABNA0417164300"), ("ES", "21000418450200051332")]:
    for _ in range(3):
        b = bban[:-4] + "".join(R.choice("0123456789") for _ in range(4))
        value = iban(cc, b)
        if R.random() < 0.5:
            value = " ".join(value[i:i + 4] for i in range(0, len(value), 4))
        pos("core", "pii", "iban", value, only=("text", "json", "env"))
for _ in range(10):
    ip = f"{R.choice([8, 34, 52, 81, 104, 151, 185])}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"
    pos("core", "pii", "ipv4", ip, key="HOST", only=("text", "json", "env"))
    ip = f"10.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}"
    pos("core", "pii", "ipv4", ip, key="HOST", only=("text",))
    v6 = f"2a01:4f8:{R.randint(1, 0xffff):x}:{R.randint(1, 0xffff):x}::{R.randint(1, 0xffff):x}"
    pos("core", "pii", "ipv6", v6, key="HOST", only=("text", "json", "env"))
# PII hard negatives (core)
for text in ["123e4567-e89b-12d3-a456-426614174000", "9fceb02d0ae598e95dc970b74767f19372d61af8", "version 1.2.3 and v10.0.0.1 and 2.14.0.3.1",
             "2026-11-24T21:45:56Z", "12:30:45.123", "order #100234567", "order 2024-000123", "a 10-digit id 4155552671", "price 1234567.89",
             "ratio 3:2:1 and std::io::Read", "an email@ without a domain, and foo@bar", "npm i @scope/pkg@1.2.3", "image@sha256:9f86d081884c7d659a2feaa0",
             "git@github.com:acme/genai-tap.git", "git clone git@gitlab.com:group/sub/repo.git", "logo@2x.png and icon@3x.jpg", "spinner@2x.gif",
             "https://4f2a9c8d7e6b5a4f3e2d1c0b9a8f7e6d@o123456.ingest.sentry.io/4505", "ssh://git@github.com/acme/repo.git",
             "listening on 127.0.0.1:8080 and 0.0.0.0:9901", "docs use 192.0.2.10, 198.51.100.7 and 203.0.113.254", "bind [::1]:8080 and 2001:db8::1",
             "ssn 000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000", "sample SSNs 078-05-1120 and 219-09-9999 and 457-55-5462",
             "placeholder SSN 123-45-6789 or 111-11-1111 or 999-99-9999", "card 4111 1111 1111 1112", "tracking 1Z999AA10123456784",
             "call extension 5551234", "build 202611240001", "isbn 978-3-16-148410-0", "the 9 digits 123456780 are an order id",
             "user@localhost", "admin@internal", "@mention someone", "cost was $1,234,567", "year range 1999-2024"]:
    for ctx in ["text", "json"]:
        add("core", "pii", [], ctx, text if ctx == "text" else json.dumps({"content": text}), text)

# PII extended: forms the issue saw missed
for local, domain in [("josé", "example.com"), ("müller", "firma.de"), ("zoë.k", "example.org"), ("用户", "例子.中国"), ("anna", "bücher.de"), ("søren", "example.dk"), ("jürgen.weiß", "mail.de"), ("ñandú", "ejemplo.es")]:
    e = f"{local}@{domain}"
    add("extended", "pii", ["email"], "text", f"write to {e} today", e)
    add("extended", "pii", ["email"], "json", json.dumps({"content": f"write to {e} today"}, ensure_ascii=False), e)
    add("extended", "pii", ["email"], "json_ascii", json.dumps({"content": f"write to {e} today"}), e)
for _ in range(8):
    e = f"{R.choice(FIRST)}{R.randint(1, 99)}@{R.choice(DOMAINS)}"
    enc = e.replace("@", "%40")
    add("extended", "pii", ["email"], "url", f"GET https://app.example.net/invite?email={enc}&ref=mail", enc)
    add("extended", "pii", ["email"], "json_ascii", json.dumps({"content": f"mail {e}"}).replace("@", "\\u0040"), e)
for fmt in ["020 7946 {:04}", "0113 496 {:04}", "01632 960 {:03}", "07700 900 {:03}", "0412 345 {:03}", "(02) 9876 {:04}", "0491 570 {:03}", "(03) 9123 {:04}"]:
    for _ in range(2):
        v = fmt.format(R.randint(100, 999) if "{:03}" in fmt else R.randint(1000, 9999))
        pos("extended", "pii", "phone", v, only=("text", "json"))
for _ in range(8):
    a, g, s = ssn()
    for v, ctx_text in [(f"{a} {g} {s}", "SSN {}"), (f"{a}.{g}.{s}", "social security number {}"), (f"{a}{g}{s}", "SSN: {}"), (f"{a}{g}{s}", "my social security # is {}")]:
        add("extended", "pii", ["ssn"], "text", ctx_text.format(v), v)
for _ in range(8):
    d = card()
    for sep in ["\u00a0", "\u2009", "\u202f"]:
        v = grouped(d, sep)
        add("extended", "pii", ["credit_card"], "text", f"card {v} exp 12/29", v)
        add("extended", "pii", ["credit_card"], "json_ascii", json.dumps({"content": f"card {v}"}), v)
for _ in range(8):
    a, g, s = ssn()
    d = grouped(card(), " ")
    e = f"{R.choice(FIRST)}@{R.choice(DOMAINS)}"
    p = f"415 555 {R.randint(1000, 9999)}"
    msg = f"Customer {e}, phone {p} {d}, SSN {a}-{g}-{s}"
    add("extended", "pii", ["email", "phone", "credit_card", "ssn"], "text", msg, d)
    add("extended", "pii", ["email", "phone", "credit_card", "ssn"], "json_ascii", json.dumps({"content": msg}), d)
for text in ["order 123456789 shipped", "invoice 987654321", "tracking number 123456780", "git@bitbucket.org:team/repo.git"]:
    add("extended", "pii", [], "text", text, text)

# ---------------------------------------------------------------- telemetry (redact_all only)
for _ in range(30):
    tok = f(R.choice([32, 40, 48, 64]))
    add("telemetry", "secret", ["high-entropy-string"], "text", f"the agent used {tok} to call the tool", tok)
for _ in range(10):
    tok = f(40, B64)
    add("telemetry", "secret", ["high-entropy-string"], "json", json.dumps({"content": f"key {tok}"}), tok)
for v in ["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
          "chatcmpl-" + f(29), "msg_01" + f(22), "toolu_01" + f(22), "call_" + f(24), "resp_" + f(48, HEX), "req_" + f(24),
          "gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022", "anthropic.claude-3-5-sonnet-20241022-v2:0", "meta-llama/Llama-3.1-70B-Instruct",
          "123e4567-e89b-12d3-a456-426614174000", "/home/agent/projects/genai-tap/src/scan/mod.rs", "https://api.openai.com/v1/chat/completions",
          "internationalization", "getUserAccountSettingsForTenant", "application/vnd.openai+json", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
          "9fceb02d0ae598e95dc970b74767f19372d61af8", "The quick brown fox jumps over the lazy dog", "projects/my-project/locations/us-central1/models/gemini-1.5-pro",
          "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-v2", "file-" + f(24), "batch_" + f(24), "asst_" + f(24), "thread_" + f(24),
          "hNcEarPuMNa3qtsP7MHt4As", f(23, URLSAFE), f(28), "call_3JNWJ9wdfRsmkhKWql4HqJhR"]:
    add("telemetry", "secret", [], "text", f"span saw {v} here", v)

out = Path(__file__).resolve().parent.parent / "tests" / "data" / "detectors.jsonl"
out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases), encoding="utf-8")
tiers = {}
for c in cases:
    k = (c["tier"], c["class"], "pos" if c["kinds"] else "neg")
    tiers[k] = tiers.get(k, 0) + 1
print(len(cases), "cases", dict(sorted(tiers.items())))
