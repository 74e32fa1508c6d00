//! The secret rule table: one entry per rule family, each with a stable id.
//!
//! Ids follow gitleaks' default rules where one exists (`github-pat`, `slack-webhook-url`...),
//! with the AWS ids the product documents (`aws-access-key-id`, `aws-secret-access-key`).
//! `keywords` are literals of which at least one sits inside or just before every match: the
//! prefilter looks for them first, and the regex runs only in a window around a hit. Ids are a
//! public contract: add, never rename.

/// One built-in rule.
pub(crate) struct Rule {
    pub id: &'static str,
    /// Literal hints, matched ASCII-case-insensitively when `nocase`, else exactly.
    pub keywords: &'static [&'static str],
    pub nocase: bool,
    /// regex-lite syntax. When it has a capture group, group 1 is the secret.
    pub pattern: &'static str,
    /// Bytes before a keyword hit where a match may start.
    pub before: usize,
    /// Bytes after a keyword hit where a match may end.
    pub after: usize,
    /// Minimum Shannon entropy (bits per byte) of the secret, 0 for none.
    pub min_entropy: f32,
}

macro_rules! rule {
    ($id:literal, [$($k:literal),*], $re:literal) => {
        Rule { id: $id, keywords: &[$($k),*], nocase: false, pattern: $re, before: 4, after: 128, min_entropy: 0.0 }
    };
    ($id:literal, [$($k:literal),*], $re:literal, before = $b:literal) => {
        Rule { id: $id, keywords: &[$($k),*], nocase: false, pattern: $re, before: $b, after: 64, min_entropy: 0.0 }
    };
    ($id:literal, [$($k:literal),*], $re:literal, after = $a:literal) => {
        Rule { id: $id, keywords: &[$($k),*], nocase: false, pattern: $re, before: 4, after: $a, min_entropy: 0.0 }
    };
    ($id:literal, nocase [$($k:literal),*], $re:literal, before = $b:literal, entropy = $e:literal) => {
        Rule { id: $id, keywords: &[$($k),*], nocase: true, pattern: $re, before: $b, after: 160, min_entropy: $e }
    };
}

pub(crate) const RULES: &[Rule] = &[
    rule!("aws-access-key-id", ["AKIA", "ASIA", "ABIA", "ACCA", "A3T"], r"\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b"),
    rule!("aws-secret-access-key", nocase ["secret_access_key", "secretaccesskey", "aws_secret", "secret-access-key"],
        r#"(?i)(?:aws)?_?(?:secret)_?(?:access)?_?key[\\"'\s]*[:=]\s*\\*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#, before = 8, entropy = 3.0),
    rule!("github-pat", ["ghp_"], r"ghp_[0-9a-zA-Z]{36}"),
    rule!("github-fine-grained-pat", ["github_pat_"], r"github_pat_[0-9a-zA-Z_]{82}"),
    rule!("github-oauth", ["gho_"], r"gho_[0-9a-zA-Z]{36}"),
    rule!("github-app-token", ["ghu_", "ghs_"], r"(?:ghu|ghs)_[0-9a-zA-Z]{36}"),
    rule!("github-refresh-token", ["ghr_"], r"ghr_[0-9a-zA-Z]{36}"),
    rule!("gitlab-pat", ["glpat-"], r"glpat-[0-9a-zA-Z_-]{20}"),
    rule!("gitlab-pipeline-trigger-token", ["glptt-"], r"glptt-[0-9a-f]{40}"),
    rule!("gitlab-runner-registration-token", ["GR1348941"], r"GR1348941[0-9a-zA-Z_-]{20}"),
    rule!("gitlab-deploy-token", ["gldt-"], r"gldt-[0-9a-zA-Z_-]{20}"),
    rule!("slack-bot-token", ["xoxb-"], r"xoxb-[0-9]{10,13}-[0-9]{10,13}[a-zA-Z0-9-]*"),
    rule!("slack-user-token", ["xoxp-", "xoxe-"], r"xox[pe](?:-[0-9]{10,13}){3}-[a-zA-Z0-9-]{28,34}"),
    rule!("slack-app-token", ["xapp-"], r"(?i)xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"),
    rule!("slack-webhook-url", ["hooks.slack.com"], r"(?:https?://)?hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_-]{20,}"),
    rule!("stripe-access-token", ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "sk_prod_"], r"(?:sk|rk)_(?:test|live|prod)_[a-zA-Z0-9]{10,99}"),
    // the legacy form's keyword sits 23 bytes into it
    Rule { id: "openai-api-key", keywords: &["sk-proj-", "sk-svcacct-", "sk-admin-", "T3BlbkFJ"], nocase: false,
        pattern: r"sk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,200}|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20})", before: 24, after: 220, min_entropy: 0.0 },
    rule!("anthropic-api-key", ["sk-ant-"], r"sk-ant-(?:api\d\d|admin\d\d|sid\d\d)-[A-Za-z0-9_-]{80,120}"),
    rule!("gcp-api-key", ["AIza"], r"AIza[0-9A-Za-z_-]{35}"),
    rule!("gcp-service-account", ["service_account"], r#"type\\*"\s*:\s*\\*"(service_account)"#, before = 40),
    rule!("google-oauth-client-secret", ["GOCSPX-"], r"GOCSPX-[a-zA-Z0-9_-]{28}"),
    rule!("private-key", ["-----BEGIN"], r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----", after = 160),
    rule!("azure-storage-account-key", ["AccountKey="], r"AccountKey=([A-Za-z0-9+/]{86}==)"),
    rule!("azure-storage-connection-string", ["DefaultEndpointsProtocol"], r"DefaultEndpointsProtocol=https?;AccountName=[A-Za-z0-9]+;AccountKey=[A-Za-z0-9+/=]{40,}", after = 400),
    rule!("azure-ad-client-secret", ["Q~"], r"(?:^|[^A-Za-z0-9_~.-])([a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34})(?:$|[^A-Za-z0-9_~.-])", before = 8),
    rule!("jwt", ["eyJ"], r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", after = 8192),
    rule!("npm-access-token", ["npm_"], r"npm_[a-zA-Z0-9]{36}"),
    rule!("pypi-upload-token", ["pypi-AgEIcHlwaS5vcmc"], r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}", after = 512),
    rule!("huggingface-access-token", ["hf_"], r"\bhf_[a-zA-Z]{34}\b"),
    rule!("twilio-api-key", ["SK"], r"\bSK[0-9a-fA-F]{32}\b"),
    rule!("sendgrid-api-token", ["SG."], r"SG\.[a-zA-Z0-9_-]{22}\.[a-zA-Z0-9_-]{43}"),
    rule!("databricks-api-token", ["dapi"], r"\bdapi[a-f0-9]{32}(?:-\d)?\b"),
    rule!("shopify-access-token", ["shpat_"], r"shpat_[a-fA-F0-9]{32}"),
    rule!("shopify-custom-access-token", ["shpca_"], r"shpca_[a-fA-F0-9]{32}"),
    rule!("shopify-private-app-access-token", ["shppa_"], r"shppa_[a-fA-F0-9]{32}"),
    rule!("shopify-shared-secret", ["shpss_"], r"shpss_[a-fA-F0-9]{32}"),
    rule!("datadog-access-token", nocase ["datadog", "dd_api_key", "dd_app_key", "dd-api-key"],
        r#"(?i)(?:datadog|dd)[_-]?(?:api|app)?[_-]?key[\\"'\s]*[:=]\s*\\*["']?([a-f0-9]{32,40})\b"#, before = 0, entropy = 3.0),
    rule!("mailgun-private-api-token", ["key-"], r"\bkey-[a-f0-9]{32}\b"),
    rule!("mailchimp-api-key", ["-us"], r"\b[0-9a-f]{32}-us\d{1,2}\b", before = 40),
    rule!("doppler-api-token", ["dp.pt."], r"dp\.pt\.[a-zA-Z0-9]{43}"),
    rule!("digitalocean-pat", ["dop_v1_"], r"dop_v1_[a-f0-9]{64}"),
    rule!("linear-api-key", ["lin_api_"], r"lin_api_[a-zA-Z0-9]{40}"),
    rule!("postman-api-token", ["PMAK-"], r"PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),
    rule!("atlassian-api-token", ["ATATT3"], r"ATATT3[A-Za-z0-9_=-]{150,220}", after = 300),
    rule!("square-access-token", ["sq0atp-", "EAAA"], r"(?:sq0atp-[0-9A-Za-z_-]{22}|\bEAAA[a-zA-Z0-9_-]{60}\b)"),
    rule!("telegram-bot-api-token", [":AA"], r"\b\d{8,10}:AA[0-9A-Za-z_-]{33}\b", before = 16),
    rule!("hashicorp-tf-api-token", ["atlasv1"], r"[a-z0-9]{14}\.atlasv1\.[a-z0-9_=-]{60,70}", before = 24),
    rule!("grafana-service-account-token", ["glsa_"], r"glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}"),
    rule!("grafana-cloud-api-token", ["glc_"], r"glc_[A-Za-z0-9+/]{32,400}={0,2}", after = 420),
    rule!("age-secret-key", ["AGE-SECRET-KEY-1"], r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    rule!("new-relic-user-api-key", ["NRAK-"], r"NRAK-[A-Z0-9]{27}"),
    rule!("sentry-org-token", ["sntrys_"], r"sntrys_eyJpYXQiO[a-zA-Z0-9+/=_-]{10,300}", after = 400),
    rule!("groq-api-key", ["gsk_"], r"gsk_[a-zA-Z0-9]{52}"),
    rule!("xai-api-key", ["xai-"], r"\bxai-[a-zA-Z0-9]{80}\b"),
    // added for issue #16: families agents paste (gitleaks' ids where one exists)
    rule!("gitlab-runner-authentication-token", ["glrt-"], r"glrt-[0-9a-zA-Z_-]{20,300}(?:\.[0-9a-z]{9})?"),
    rule!("gitlab-cicd-job-token", ["glcbt-"], r"glcbt-[0-9a-zA-Z]{1,5}_[0-9a-zA-Z_-]{20}"),
    rule!("gitlab-feed-token", ["glft-"], r"glft-[0-9a-zA-Z_-]{20}"),
    rule!("gitlab-incoming-mail-token", ["glimt-"], r"glimt-[0-9a-zA-Z_-]{25}"),
    rule!("gitlab-kubernetes-agent-token", ["glagent-"], r"glagent-[0-9a-zA-Z_-]{50}"),
    rule!("gitlab-oauth-app-secret", ["gloas-"], r"gloas-[0-9a-zA-Z_-]{64}"),
    rule!("gitlab-scim-token", ["glsoat-"], r"glsoat-[0-9a-zA-Z_-]{20}"),
    rule!("gitlab-feature-flag-client-token", ["glffct-"], r"glffct-[0-9a-zA-Z_-]{20}"),
    rule!("vault-service-token", ["hvs."], r"\bhvs\.[A-Za-z0-9_-]{24,300}", after = 320),
    rule!("vault-batch-token", ["hvb."], r"\bhvb\.[A-Za-z0-9_-]{24,400}", after = 420),
    rule!("heroku-api-key-v2", ["HRKU-"], r"\bHRKU-AA[0-9a-zA-Z_-]{58}"),
    rule!("perplexity-api-key", ["pplx-"], r"\bpplx-[a-zA-Z0-9]{48}\b"),
    rule!("openrouter-api-key", ["sk-or-v1-"], r"sk-or-v1-[a-f0-9]{64}"),
    rule!("langsmith-api-key", ["lsv2_"], r"lsv2_(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}"),
    rule!("replicate-api-token", ["r8_"], r"\br8_[A-Za-z0-9]{37}\b"),
    rule!("tavily-api-key", ["tvly-"], r"\btvly-(?:dev-|prod-)?[A-Za-z0-9]{32}\b"),
    rule!("supabase-access-token", ["sbp_"], r"\bsbp_[a-f0-9]{40}\b"),
    rule!("supabase-secret-key", ["sb_secret_"], r"\bsb_secret_[A-Za-z0-9_-]{31,64}"),
    rule!("pulumi-api-token", ["pul-"], r"\bpul-[a-f0-9]{40}\b"),
    rule!("1password-service-account-token", ["ops_eyJ"], r"ops_eyJ[a-zA-Z0-9+/]{250,}={0,3}", after = 2048),
    rule!("sentry-user-token", ["sntryu_"], r"sntryu_[a-f0-9]{64}"),
    rule!("rubygems-api-token", ["rubygems_"], r"rubygems_[a-f0-9]{48}"),
    rule!("planetscale-api-token", ["pscale_tkn_"], r"pscale_tkn_[A-Za-z0-9_.=-]{32,64}"),
    rule!("planetscale-password", ["pscale_pw_"], r"pscale_pw_[A-Za-z0-9_.=-]{32,64}"),
    rule!("huggingface-organization-api-token", ["api_org_"], r"\bapi_org_[a-zA-Z]{34}\b"),
    rule!("dockerhub-pat", ["dckr_pat_"], r"dckr_pat_[A-Za-z0-9_-]{27}"),
    rule!("notion-api-token", ["ntn_"], r"\bntn_[0-9]{11}[A-Za-z0-9]{35}\b"),
    rule!("digitalocean-access-token", ["doo_v1_"], r"doo_v1_[a-f0-9]{64}"),
    rule!("digitalocean-refresh-token", ["dor_v1_"], r"dor_v1_[a-f0-9]{64}"),
    // the password of a URL's userinfo: `postgres://app:<password>@db`, `redis://:<password>@`
    Rule { id: "connection-string-password", keywords: &["://"], nocase: false,
        pattern: r#"(?i)\b(?:jdbc:)?(?:postgres|postgresql|mysql|mariadb|mongodb|mongodb\+srv|redis|rediss|amqp|amqps|mssql|sqlserver|clickhouse|cockroachdb|nats|ldap|ldaps|ftp|sftp|smtp|smtps|http|https)://[^\s:/@"'\\<>]{0,128}:([^\s@/"'\\<>]{3,256})@[^\s/@"'\\<>]"#,
        before: 32, after: 400, min_entropy: 0.0 },
    // `curl -H "Authorization: Bearer <token>"` (and Token, Basic)
    Rule { id: "curl-auth-header", keywords: &["authorization:"], nocase: true,
        pattern: r#"(?i)(?:-H|--header)[= ]?\s*\\*["']?authorization:\s*(?:bearer|token|basic|apikey)\s+([A-Za-z0-9._~+/=-]{12,512})"#,
        before: 24, after: 600, min_entropy: 2.5 },
    // `curl -u user:password` (and --user, -U/--proxy-user)
    Rule { id: "curl-auth-user", keywords: &["-u ", "--user", "-U ", "--proxy-user"], nocase: false,
        pattern: r#"(?:-u|-U|--user|--proxy-user)[= ]\s*["']?[^\s:"'$@]{1,64}:([^\s"'$]{3,128})"#,
        before: 0, after: 240, min_entropy: 1.5 },
    rule!("generic-password", nocase ["password", "passwd", "pwd"],
        r#"(?i)(?:password|passwd|pwd)[\\"'\s]*[:=]\s*\\*["']?([^\s"'&;,<>{}\\]{8,64})"#, before = 0, entropy = 2.5),
    rule!("generic-api-key", nocase ["api_key", "apikey", "api-key", "client_secret", "access_token", "secret_key", "auth_token"],
        r#"(?i)(?:api[_-]?key|client[_-]?secret|access[_-]?token|secret[_-]?key|auth[_-]?token)[\\"'\s]*[:=]\s*\\*["']?([A-Za-z0-9_./+=-]{16,128})"#, before = 0, entropy = 3.5),
];
