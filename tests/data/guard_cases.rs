// Labelled secret cases shared by the guard's unit tests and the end-to-end test:
// `include!`d, so both run the very same values.

/// Deterministic filler from `charset` (a fake secret must look random to pass entropy gates).
fn fill(n: usize, charset: &str, seed: u64) -> String {
    let cs: Vec<char> = charset.chars().collect();
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cs[(x % cs.len() as u64) as usize]
        })
        .collect()
}
/// A GitHub-format token (`ghp_`, `npm_`...): 30 random base62 characters, then their CRC32
/// in base62 as the last 6, as GitHub's format has it (a wrong checksum is not a token).
fn gh_token(prefix: &str, seed: u64) -> String {
    let body = fill(30, AN, seed);
    let mut crc = 0xFFFF_FFFFu32;
    for &b in body.as_bytes() {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    let mut n = !crc;
    let digits = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut check = [b'0'; 6];
    for slot in check.iter_mut().rev() {
        *slot = digits[(n % 62) as usize];
        n /= 62;
    }
    format!("{prefix}_{body}{}", String::from_utf8_lossy(&check))
}
/// A PyPI token: `pypi-` and a binary V2 macaroon (location `pypi.org`, an identifier, a
/// caveat, the 32-byte signature last) in base64url, as PyPI issues them.
fn pypi_token(seed: u64) -> String {
    let id = fill(36, HEX, seed);
    let mut m = vec![2u8, 1, 8];
    m.extend_from_slice(b"pypi.org");
    m.extend_from_slice(&[2, 36]);
    m.extend_from_slice(id.as_bytes());
    m.extend_from_slice(&[0, 2, 13]);
    m.extend_from_slice(b"{\"version\":1}");
    m.extend_from_slice(&[0, 0, 6, 32]);
    m.extend(fill(32, AN, seed + 1).bytes());
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::from("pypi-");
    for c in m.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..=c.len() {
            out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}
const AN: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const HEX: &str = "0123456789abcdef";
const UP: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const LOW: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// (rule id, a value that rule must find)
pub fn secret_cases() -> Vec<(&'static str, String)> {
    vec![
        ("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE".into()),
        ("aws-secret-access-key", format!("aws_secret_access_key = \"{}\"", fill(40, B64, 1))),
        ("github-pat", gh_token("ghp", 2)),
        ("github-fine-grained-pat", format!("github_pat_{}", fill(82, AN, 3))),
        ("github-oauth", gh_token("gho", 4)),
        ("github-app-token", gh_token("ghs", 5)),
        ("github-app-token", gh_token("ghu", 57)),
        ("github-refresh-token", gh_token("ghr", 6)),
        ("gitlab-pat", format!("glpat-{}", fill(20, AN, 7))),
        ("gitlab-pipeline-trigger-token", format!("glptt-{}", fill(40, HEX, 8))),
        ("gitlab-runner-registration-token", format!("GR1348941{}", fill(20, AN, 9))),
        ("gitlab-deploy-token", format!("gldt-{}", fill(20, AN, 10))),
        ("slack-bot-token", format!("xoxb-1234567890-1234567890123-{}", fill(24, AN, 11))),
        ("slack-user-token", format!("xoxp-1234567890-1234567890-1234567890123-{}", fill(32, HEX, 12))),
        ("slack-app-token", format!("xapp-1-A0123456789-1234567890123-{}", fill(32, HEX, 13))),
        ("slack-webhook-url", format!("https://hooks.slack.com/services/T00000000/B00000000/{}", fill(24, AN, 14))),
        ("stripe-access-token", format!("sk_live_{}", fill(24, AN, 15))),
        ("stripe-access-token", format!("rk_test_{}", fill(24, AN, 58))),
        ("openai-api-key", format!("sk-proj-{}", fill(64, AN, 16))),
        ("anthropic-api-key", format!("sk-ant-api03-{}", fill(95, AN, 17))),
        ("gcp-api-key", format!("AIza{}", fill(35, AN, 18))),
        ("gcp-service-account", "{\"type\": \"service_account\", \"project_id\": \"demo\"}".into()),
        ("google-oauth-client-secret", format!("GOCSPX-{}", fill(28, AN, 19))),
        ("private-key", format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----", fill(64, B64, 20))),
        ("azure-storage-account-key", format!("AccountKey={}==", fill(86, B64, 21))),
        ("azure-storage-connection-string", format!("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={}==", fill(86, B64, 22))),
        ("azure-ad-client-secret", format!("xYz7Q~{}", fill(34, AN, 23))),
        ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U".into()),
        ("npm-access-token", gh_token("npm", 24)),
        ("pypi-upload-token", pypi_token(25)),
        ("huggingface-access-token", format!("hf_{}", fill(34, LETTERS, 26))),
        ("twilio-api-key", format!("SK{}", fill(32, HEX, 27))),
        ("sendgrid-api-token", format!("SG.{}.{}", fill(22, AN, 28), fill(43, AN, 29))),
        ("databricks-api-token", format!("dapi{}", fill(32, HEX, 30))),
        ("shopify-access-token", format!("shpat_{}", fill(32, HEX, 31))),
        ("shopify-custom-access-token", format!("shpca_{}", fill(32, HEX, 32))),
        ("shopify-private-app-access-token", format!("shppa_{}", fill(32, HEX, 33))),
        ("shopify-shared-secret", format!("shpss_{}", fill(32, HEX, 34))),
        ("datadog-access-token", format!("DD_API_KEY={}", fill(32, HEX, 35))),
        ("mailgun-private-api-token", format!("key-{}", fill(32, HEX, 36))),
        ("mailchimp-api-key", format!("{}-us12", fill(32, HEX, 37))),
        ("doppler-api-token", format!("dp.pt.{}", fill(43, AN, 38))),
        ("digitalocean-pat", format!("dop_v1_{}", fill(64, HEX, 39))),
        ("linear-api-key", format!("lin_api_{}", fill(40, AN, 40))),
        ("postman-api-token", format!("PMAK-{}-{}", fill(24, HEX, 41), fill(34, HEX, 42))),
        ("atlassian-api-token", format!("ATATT3{}", fill(180, AN, 43))),
        ("square-access-token", format!("sq0atp-{}", fill(22, AN, 44))),
        ("telegram-bot-api-token", format!("123456789:AA{}", fill(33, AN, 45))),
        ("hashicorp-tf-api-token", format!("{}.atlasv1.{}", fill(14, LOW, 46), fill(65, LOW, 47))),
        ("grafana-service-account-token", format!("glsa_{}_{}", fill(32, AN, 48), fill(8, HEX, 49))),
        ("grafana-cloud-api-token", format!("glc_{}", fill(48, AN, 50))),
        ("age-secret-key", format!("AGE-SECRET-KEY-1{}", fill(58, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 51))),
        ("new-relic-user-api-key", format!("NRAK-{}", fill(27, UP, 52))),
        ("sentry-org-token", format!("sntrys_eyJpYXQiO{}", fill(60, AN, 53))),
        ("groq-api-key", format!("gsk_{}", fill(52, AN, 54))),
        ("xai-api-key", format!("xai-{}", fill(80, AN, 55))),
        ("gitlab-runner-authentication-token", format!("glrt-{}", fill(20, AN, 60))),
        ("vault-service-token", format!("hvs.{}", fill(91, AN, 61))),
        ("vault-batch-token", format!("hvb.{}", fill(140, AN, 62))),
        ("heroku-api-key-v2", format!("HRKU-AA{}", fill(58, AN, 63))),
        ("perplexity-api-key", format!("pplx-{}", fill(48, AN, 64))),
        ("openrouter-api-key", format!("sk-or-v1-{}", fill(64, HEX, 65))),
        ("connection-string-password", format!("postgres://app:{}@db.internal.example:5432/orders", fill(20, AN, 66))),
        ("connection-string-password", format!("mongodb+srv://svc:{}@cluster0.ab1cd.mongodb.net/app", fill(16, AN, 67))),
        ("connection-string-password", format!("redis://default:{}@cache.example.com:6379/0", fill(24, AN, 68))),
        ("curl-auth-header", format!("curl -H 'Authorization: Bearer {}' https://api.vendor.example/v1", fill(40, AN, 69))),
        ("curl-auth-user", format!("curl -u deploy:{} https://ci.example.org/api", fill(16, AN, 70))),
        ("generic-password", "password = \"S3cr3t!Passw0rd#2024\"".into()),
        ("generic-api-key", "api_key: \"Zx8Qp2Lm9Vt4Rw7Yk3Hs\"".into()),
    ]
}

/// The part of a case that is the credential itself: for assignments (`key = "..."`), the value
/// after the key, which is what must never leak even if the key name does.
#[allow(dead_code)] // included where only the cases are needed too
pub fn secret_part(rule: &str, value: &str) -> String {
    match rule {
        "connection-string-password" => value.split_once("://").and_then(|(_, r)| r.split_once(':')).and_then(|(_, r)| r.split_once('@')).map(|(p, _)| p.to_owned()).unwrap_or_default(),
        "curl-auth-header" => value.split_whitespace().nth(4).unwrap_or_default().trim_end_matches('\'').to_owned(),
        "curl-auth-user" => value.split_whitespace().nth(2).and_then(|u| u.split_once(':')).map(|(_, p)| p.to_owned()).unwrap_or_default(),
        "aws-secret-access-key" | "generic-password" | "generic-api-key" | "datadog-access-token" => {
            value.rsplit(['=', ':', ' ']).next().unwrap().trim_matches('"').to_owned()
        }
        "gcp-service-account" => "service_account".to_owned(),
        _ => value.to_owned(),
    }
}
