"""The hub's configuration: one frozen settings object, read from CIMHUB_* variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Legacy namespace prefixes normalised to their 2011 forms before validation.
#: Keys are prefixes of the namespace URI; the rest of the URI is kept.
DEFAULT_NAMESPACE_ALIASES: dict[str, str] = {
    "http://www.iec.ch/TC57/2011/": "http://iec.ch/TC57/2011/",
    "http://iec.ch/TC57/2010/schema/message": "http://iec.ch/TC57/2011/schema/message",
    "http://iec.ch/TC57/2008/schema/message": "http://iec.ch/TC57/2011/schema/message",
    "http://www.iec.ch/TC57/2010/schema/message": "http://iec.ch/TC57/2011/schema/message",
    "http://www.iec.ch/TC57/2008/schema/message": "http://iec.ch/TC57/2011/schema/message",
    "http://iec.ch/TC57/2009/": "http://iec.ch/TC57/2011/",
    "http://www.iec.ch/TC57/2009/": "http://iec.ch/TC57/2011/",
    "http://iec.ch/TC57/2010/": "http://iec.ch/TC57/2011/",
}


class Settings(BaseSettings):
    """Everything an operator can set; built once at the composition root and passed down."""

    model_config = SettingsConfigDict(env_prefix="CIMHUB_", frozen=True, extra="ignore")

    database_url: str = Field(
        default="sqlite:///cimhub.db",
        description="SQLAlchemy URL; postgresql+psycopg://… for production.",
    )
    broker_url: str = Field(
        default="memory://",
        description="memory:// runs handlers in-process; amqp://… hands them to `cimhub worker`s.",
    )
    mqtt_url: str | None = Field(default=None, description="MQTT broker for HES adapters.")
    # Commands to meters (EndDeviceControls) and head-end adapters (see cimhub.adapters).
    command_timeout_seconds: float = Field(
        default=900.0, gt=0, description="A command sent but not acknowledged this long: timed out."
    )
    command_outcome_timeout_seconds: float = Field(
        default=3600.0, gt=0, description="Acknowledged but no outcome this long: timed out."
    )
    hes_max_attempts: int = Field(
        default=20, gt=0, description="Attempts to hand a command to its head-end, then failed."
    )
    hes_backoff_seconds: float = Field(default=2.0, gt=0, description="First HES retry delay.")
    hes_backoff_max_seconds: float = Field(default=300.0, gt=0)
    hes_timeout_seconds: float = Field(default=10.0, gt=0, description="One HES request's limit.")
    approval_codes: bool = Field(
        default=False, description="Approvals need a one-time code (a tenant's own setting wins)."
    )
    approval_code_ttl_seconds: int = Field(
        default=300, ge=30, le=3600, description="How long a one-time code is valid."
    )
    approval_code_max_attempts: int = Field(
        default=3, ge=1, le=10, description="Wrong codes allowed before a code is void."
    )
    approval_code_digits: int = Field(default=6, ge=6, le=10, description="Digits of a code.")
    approval_code_requests: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Codes one approver of a tenant may ask for per window.",
    )
    approval_code_window_seconds: int = Field(
        default=900, ge=60, le=86_400, description="The window of approval_code_requests."
    )
    # Reads the hub asks of head-ends (cimhub.handlers.on_demand, cimhub.handlers.rereads).
    on_demand_stale_minutes: int = Field(
        default=0,
        ge=0,
        description="A GetMeterReadings for a meter whose newest reading is older than this "
        "reads it on demand from its head-end (0: only Option onDemand=true does).",
    )
    on_demand_reply_seconds: float = Field(
        default=300.0,
        gt=0,
        description="An asynchronous GetMeterReadings waits this long for its on-demand "
        "reads, then gets the readings stored with code 0.5.",
    )
    meter_memory_days: int = Field(
        default=45, gt=0, description="A meter's load profile reaches this far back: no older "
        "period is asked of it (IS 15959 block load: ~45 days of 15-minute blocks).",
    )  # fmt: skip
    reread_max_attempts: int = Field(
        default=3, ge=0, description="Reads asked for one missed-interval gap (0: none)."
    )
    reread_retry_minutes: float = Field(
        default=60.0, gt=0, description="Before asking a gap again; doubles each attempt."
    )
    reread_estimate_minutes: float = Field(
        default=60.0,
        ge=0,
        description="A gap still missing this long after its first re-read request: VEE "
        "estimates it (the re-read may still replace the estimate).",
    )
    reread_sweep_minutes: float = Field(
        default=15.0, gt=0, description="How often the serving hub sweeps for missed intervals."
    )
    mqtt_vendors: str | None = Field(
        default=None,
        description="Comma-separated MQTT vendor profiles (names shipped in cimhub.adapters."
        "profiles or TOML paths) the hub subscribes to when mqtt_url is set.",
    )
    mqtt_topic_prefix: str = Field(
        default="cimhub", description="Replaces {prefix} in the vendor profiles' topics."
    )
    mqtt_client_id: str | None = Field(
        default=None,
        description="Fixed MQTT client id: a persistent session (QoS 1 messages kept while away).",
    )
    host: str = "127.0.0.1"
    port: int = 8061
    default_tenant: str = Field(
        default="default",
        description="Tenant of requests that name none (until credentials bind one).",
    )
    max_message_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_xml_depth: int = Field(default=64, gt=4)
    max_decompressed_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_request_bytes: int = Field(
        default=1024 * 1024,
        gt=0,
        description="Largest REST request body (413, code 1.3); /cim and SOAP: max_message_bytes.",
    )
    rate_limit_per_second: float = Field(
        default=50.0, ge=0, description="Requests a second each client may sustain (0: no limit)."
    )
    rate_limit_burst: int = Field(
        default=200, gt=0, description="Requests a client may send at once before it is limited."
    )
    rate_limit_exempt: list[str] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128"],
        description="Networks whose addresses are not limited (principals still are).",
    )
    auto_register_meters: bool = Field(
        default=True, description="Create unknown meters on first readings (else reply 2.15)."
    )
    raw_retention_days: int = Field(
        default=30, ge=0, description="Days raw message bytes are kept."
    )
    page_size: int = Field(
        default=50_000, gt=0, description="Readings per GetMeterReadings reply page."
    )
    dt_outage_share: float = Field(
        default=0.6,
        gt=0,
        le=1,
        description="Share of a DT's meters reporting power-off that makes a DT-level outage.",
    )
    dt_outage_window_seconds: int = Field(
        default=300, gt=0, description="Their power-offs within this many seconds of one another."
    )
    exception_rules: str | None = Field(
        default=None, description="TOML file of exception rules ([[rule]]; built-in if unset)."
    )
    communication_silence_hours: float = Field(
        default=24.0, gt=0, description="An installed meter silent this long: an exception."
    )
    notify_url: str | None = Field(
        default=None, description="Notification sender: log: (default), file:///…, smtp://…"
    )
    notify_to: str = Field(default="", description="Default recipients, comma-separated.")
    notify_from: str = Field(default="cimhub@localhost", description="Sender address of emails.")
    vee_enabled: bool = Field(
        default=True, description="Run VEE on every ingest (validated layer, findings)."
    )
    vee_config: str | None = Field(
        default=None, description="TOML file of VEE parameters (built-in defaults if unset)."
    )
    namespace_aliases: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_NAMESPACE_ALIASES)
    )

    # The message bus (see cimhub.bus): replies, workers, retries, subscriptions.
    reply_wait_seconds: float = Field(
        default=30.0, gt=0, description="How long SOAP/HTTP wait for a handler before 0.3."
    )
    worker_batch_messages: int = Field(
        default=64, gt=0, description="Messages a worker handles in one DB transaction."
    )
    worker_batch_bytes: int = Field(
        default=2 * 1024 * 1024,
        gt=0,
        description="Message bytes a worker (or the HTTP group commit) handles in one DB"
        " transaction at most (a larger message alone): bounds a batch's parsed trees and"
        " its meter locks (PostgreSQL's lock table holds ~10 000 by default).",
    )
    worker_batch_wait_ms: int = Field(
        default=20, ge=0, description="How long a worker waits to fill a batch."
    )
    worker_prefetch: int = Field(default=256, gt=0)
    retry_max_attempts: int = Field(
        default=5, gt=0, description="Attempts on technical errors before dead-lettering."
    )
    retry_backoff_seconds: float = Field(default=1.0, gt=0, description="First retry delay.")
    retry_backoff_max_seconds: float = Field(default=60.0, gt=0)
    publish_retry_seconds: float = Field(
        default=60.0, gt=0, description="How long a publisher backs off before answering 5.x."
    )
    delivery_timeout_seconds: float = Field(default=10.0, gt=0)
    relay_interval_seconds: float = Field(default=0.5, gt=0)
    subscriptions_file: str | None = Field(
        default=None, description="JSON list of subscriptions, created or replaced at start."
    )

    # Security (see cimhub.endpoints.auth): secrets have no defaults, and come from the
    # environment or from files (the *_file variants), never from command lines.
    allow_anonymous_loopback: bool = Field(
        default=False,
        description="Accept unauthenticated loopback requests even once credentials exist.",
    )
    jwt_secret: str | None = Field(default=None, description="HS256 key for bearer tokens.")
    jwt_secret_file: str | None = Field(default=None, description="File holding jwt_secret.")
    jwt_public_key_file: str | None = Field(
        default=None, description="PEM public key (RS256/ES256) of the identity provider."
    )
    jwt_issuer: str | None = Field(default=None, description="Required `iss` of bearer tokens.")
    jwt_audience: str = Field(default="cimhub", description="Required `aud` of bearer tokens.")
    secret_key: str | None = Field(
        default=None, description="Encrypts keys of credentials allowed WS-Security digests."
    )
    secret_key_file: str | None = Field(default=None, description="File holding secret_key.")
    wsse_window_seconds: int = Field(
        default=300, gt=0, description="UsernameToken Created must be this fresh; nonces kept."
    )

    # Interactive sessions of users (see cimhub.endpoints.logins): idle and absolute
    # lifetimes, concurrent sessions per user (tenants set their own per role), lockout.
    session_idle_seconds: int = Field(
        default=1800, gt=0, description="A session not used for this long ends."
    )
    session_max_seconds: int = Field(
        default=12 * 3600, gt=0, description="A session ends this long after its login."
    )
    session_limit: int = Field(
        default=3, gt=0, description="Live sessions per user, unless its tenant sets a limit."
    )
    session_on_limit: Literal["evict", "refuse"] = Field(
        default="evict",
        description="A login beyond the limit ends the oldest session (evict) or is refused.",
    )
    session_cookie_secure: bool = Field(
        default=False,
        description="Mark the session cookie Secure on plain HTTP too (behind a TLS proxy).",
    )
    login_max_failures: int = Field(
        default=5, gt=0, description="Failed logins in a row that lock a user out."
    )
    login_lockout_seconds: int = Field(
        default=900, gt=0, description="How long a user stays locked out after them."
    )

    # TLS when the hub terminates it itself (else a reverse proxy does): TLS 1.2 or newer.
    tls_cert_file: str | None = Field(
        default=None, description="PEM certificate (chain): `cimhub serve` speaks HTTPS."
    )
    tls_key_file: str | None = Field(default=None, description="PEM private key of the cert.")
    tls_client_ca_file: str | None = Field(
        default=None, description="CA bundle: clients may present X.509 certificates."
    )
    tls_client_cert_proxies: list[str] = Field(
        default_factory=list,
        description="Reverse proxies (CIDRs) whose client-certificate header is believed.",
    )
    tls_client_cert_header: str = Field(
        default="X-Client-Cert",
        description="Where such a proxy puts the verified client certificate (URL-encoded PEM).",
    )
