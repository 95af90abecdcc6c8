"""Tillhouse settings: one module, every value from the environment (see .env.example).

With no DATABASE_URL the product runs on a SQLite file in var/; with no REDIS_URL, Celery runs tasks eagerly and
the cache is local memory. That is what `make run` uses. Production and the test suite use PostgreSQL and Redis.
"""

import os
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import environ
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
PROCESS_STARTED_AT = time.time()

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# pytest (>= 8.2) sets PYTEST_VERSION before anything imports settings: the suite runs on PostgreSQL and Redis.
TESTING = bool(os.environ.get("PYTEST_VERSION"))

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env("SECRET_KEY", default="")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = "insecure-development-key-only-for-debug-and-tests-000000000000"  # noqa: S105
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
# Old keys, while SECRET_KEY is rotated: sessions, signed cookies and (without POS_PIN_SECRET) PINs stay valid.
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
if TESTING:
    ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "posproject.apps.TillhouseAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_prometheus",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "core",
    "staff",
    "inventory",
    "orders",
    "billing",
    "ops",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "ops.logging.RequestIdMiddleware",
    "core.inputs.RefuseNulCharactersMiddleware",
    "ops.maintenance.MaintenanceMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "staff.languages.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "staff.middleware.SessionIdleTimeoutMiddleware",
    "staff.middleware.PosSessionGuardMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "posproject.urls"
WSGI_APPLICATION = "posproject.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "posproject.context_processors.product",
                "csp.context_processors.nonce",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------------------------
if TESTING:
    DATABASE_URL = env("TEST_DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/postgres")
else:
    DATABASE_URL = env("DATABASE_URL", default="")

if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
else:
    (BASE_DIR / "var").mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "var" / "tillhouse.sqlite3",
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;",
                "transaction_mode": "IMMEDIATE",
            },
        }
    }

DATABASE_ENGINE = "postgresql" if "postgres" in DATABASES["default"]["ENGINE"] else "sqlite"
if DATABASE_ENGINE == "postgresql":
    DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=3))
    # Behind PgBouncer in transaction pooling mode, a connection's session does not outlive a transaction: no
    # server-side cursors (queryset.iterator() then reads in chunks on the client). Django's default client-side
    # parameter binding needs no prepared statements, so nothing else changes.
    DATABASE_TRANSACTION_POOLING = env.bool("DATABASE_TRANSACTION_POOLING", default=False)
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = DATABASE_TRANSACTION_POOLING
    if TESTING and env("TEST_DB_NAME", default=""):
        # Lets several test runs share one PostgreSQL server without sharing a test database.
        DATABASES["default"]["TEST"] = {"NAME": env("TEST_DB_NAME")}

# A PostgreSQL streaming replica for reports, product search and the kitchen display (core.replicas): reads that
# may be a few seconds old go there while it is reachable and not too far behind; everything else, and everything
# when it is not, goes to the primary. Not used under the test runner (its tests run their own replica).
DATABASE_REPLICA_URL = "" if TESTING else env("DATABASE_REPLICA_URL", default="")
REPLICA_MAX_LAG_SECONDS = env.float("REPLICA_MAX_LAG_SECONDS", default=10)
REPLICA_CHECK_SECONDS = env.float("REPLICA_CHECK_SECONDS", default=5)
REPLICA_PIN_SECONDS = env.int("REPLICA_PIN_SECONDS", default=5)
if DATABASE_REPLICA_URL and DATABASE_ENGINE == "postgresql":
    DATABASES["replica"] = {
        **env.db_url_config(DATABASE_REPLICA_URL),
        **{key: DATABASES["default"][key] for key in ("ENGINE", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS")},
        "OPTIONS": {"connect_timeout": env.int("DB_CONNECT_TIMEOUT", default=3)},
        "DISABLE_SERVER_SIDE_CURSORS": DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"],
    }
    DATABASE_ROUTERS = ["core.replicas.ReplicaRouter"]
    MIDDLEWARE.insert(
        MIDDLEWARE.index("django.contrib.sessions.middleware.SessionMiddleware"),
        "core.replicas.ReadYourWritesMiddleware",
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery ---------------------------------------------------------------------------------------
if TESTING:
    REDIS_URL = env("TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
else:
    REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "ops.cache.InstrumentedRedisCache",  # Django's RedisCache + hit/miss metrics
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "tillhouse",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=300)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=360)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
    # A dead worker's unacknowledged tasks are looked for every 10 s (kombu ≥ 5.7 would look only every 10th time,
    # i.e. up to 100 s after the visibility timeout).
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
    "socket_connect_timeout": 2,
    "socket_timeout": 5,
}
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False  # workers log through LOGGING below (JSON lines with the request id)
# Filled in by the apps' schedules (see posproject/celery.py); keys are task names.
CELERY_BEAT_SCHEDULE: dict = {}
CELERY_BEAT_SCHEDULE["ops.integrity_check"] = {
    "task": "ops.integrity_check",
    "schedule": crontab(hour=env.int("INTEGRITY_CHECK_HOUR_UTC", default=3), minute=30),
}
CELERY_BEAT_SCHEDULE["inventory.check_low_stock"] = {
    "task": "inventory.check_low_stock",
    "schedule": crontab(hour=env.int("LOW_STOCK_CHECK_HOUR_UTC", default=5), minute=0),
}
# The end-of-day accounting export (billing/accounting.py): each store's previous local day, as JSON and CSV, into
# the backups storage under exports/<store>/<day>.json|csv, named in the notifier.
CELERY_BEAT_SCHEDULE["billing.expire_gift_cards"] = {
    "task": "billing.expire_gift_cards",
    "schedule": crontab(hour=env.int("GIFT_CARD_EXPIRY_HOUR_UTC", default=2), minute=45),
}
CELERY_BEAT_SCHEDULE["billing.export_accounting_day"] = {
    "task": "billing.export_accounting_day",
    "schedule": crontab(hour=env.int("ACCOUNTING_EXPORT_HOUR_UTC", default=4), minute=15),
}

# --- Printing (billing/printing.py) ---------------------------------------------------------------------------
# A dead printer fails in seconds; connection errors are retried with backoff (nothing printed), anything that may
# have printed is left `uncertain` for staff. The sweeper re-enqueues jobs left queued and flags stuck sends.
PRINT_CONNECT_TIMEOUT = env.float("PRINT_CONNECT_TIMEOUT", default=3.0)
PRINT_SEND_TIMEOUT = env.float("PRINT_SEND_TIMEOUT", default=15.0)
PRINT_WAIT_FOR_PRINTER_CLOSE = env.bool("PRINT_WAIT_FOR_PRINTER_CLOSE", default=True)
PRINT_MAX_ATTEMPTS = env.int("PRINT_MAX_ATTEMPTS", default=5)
PRINT_RETRY_BACKOFF = env.int("PRINT_RETRY_BACKOFF", default=2)
PRINT_RETRY_BACKOFF_MAX = env.int("PRINT_RETRY_BACKOFF_MAX", default=30)
PRINT_TASK_SOFT_TIME_LIMIT = int(PRINT_CONNECT_TIMEOUT + PRINT_SEND_TIMEOUT) + 15
PRINT_REQUEUE_AFTER = env.int("PRINT_REQUEUE_AFTER", default=60)  # > PRINT_RETRY_BACKOFF_MAX
PRINT_SENDING_STALE_AFTER = env.int("PRINT_SENDING_STALE_AFTER", default=PRINT_TASK_SOFT_TIME_LIMIT + 30)
CELERY_BEAT_SCHEDULE["billing.sweep_print_jobs"] = {
    "task": "billing.sweep_print_jobs",
    "schedule": env.int("PRINT_SWEEP_EVERY", default=30),
}
# --- Receipts for guests: the public receipt page and receipts by e-mail (billing/receipt_mail.py) -------------
# The address guests reach this server at: the QR code on a printed receipt and the link in a receipt e-mail are
# PUBLIC_BASE_URL + /receipts/<id>/<token>/. Empty in production: receipts print without a QR code and e-mails go
# without a link.
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000" if DEBUG or TESTING else "").rstrip("/")
# SMTP: EMAIL_URL (smtp+tls://user:password@host:587 for STARTTLS, smtp+ssl://…:465 for implicit TLS, smtp://… for
# neither) or EMAIL_HOST, EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS / EMAIL_USE_SSL. With
# neither, e-mails are written to the console (the worker's log), so `make run` needs no mail server.
_email = env.email_url_config(env("EMAIL_URL")) if env("EMAIL_URL", default="") else {}
EMAIL_HOST = _email.get("EMAIL_HOST") or env("EMAIL_HOST", default="")
EMAIL_PORT = _email.get("EMAIL_PORT") or env.int("EMAIL_PORT", default=587)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER") or env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD") or env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = bool(_email.get("EMAIL_USE_TLS")) or env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = bool(_email.get("EMAIL_USE_SSL")) or env.bool("EMAIL_USE_SSL", default=False)
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    default=_email.get("EMAIL_BACKEND")
    or (
        "django.core.mail.backends.smtp.EmailBackend"
        if EMAIL_HOST
        else "django.core.mail.backends.console.EmailBackend"
    ),
)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)  # seconds to connect and for each SMTP reply
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Tillhouse <receipts@localhost>")
SERVER_EMAIL = env("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# A receipt e-mail the server could not hand over (connection refused, timeouts, 4xx replies) is retried with
# backoff (RECEIPT_EMAIL_RETRY_BACKOFF doubled each time, at most RECEIPT_EMAIL_RETRY_BACKOFF_MAX seconds) up to
# RECEIPT_EMAIL_MAX_ATTEMPTS, then marked failed for the manager (POS banner, admin), who can send it again.
RECEIPT_EMAIL_MAX_ATTEMPTS = env.int("RECEIPT_EMAIL_MAX_ATTEMPTS", default=5)
RECEIPT_EMAIL_RETRY_BACKOFF = env.int("RECEIPT_EMAIL_RETRY_BACKOFF", default=30)
RECEIPT_EMAIL_RETRY_BACKOFF_MAX = env.int("RECEIPT_EMAIL_RETRY_BACKOFF_MAX", default=600)
RECEIPT_EMAIL_TASK_SOFT_TIME_LIMIT = EMAIL_TIMEOUT * 4 + 10
CELERY_BEAT_SCHEDULE["billing.sweep_receipt_emails"] = {
    "task": "billing.sweep_receipt_emails",
    "schedule": env.int("RECEIPT_EMAIL_SWEEP_EVERY", default=300),
}
# Wrong receipt links one address may open within 10 minutes before it gets 429s (0: no limit).
RECEIPT_PAGE_MISSES_PER_IP = env.int("RECEIPT_PAGE_MISSES_PER_IP", default=30)
# Where a printer may point (billing/printer_targets.py; checked when a printer is saved and again on each send):
# network printers on these networks (host names are resolved and every address checked; link-local such as the
# cloud metadata service 169.254.169.254 only if a link-local network is listed), never on these ports (the app's
# own services: SSH, SMTP, DNS, HTTP(S), gunicorn, the configured database and Redis ports), and device paths only
# under these directories (no "..", symlinks resolved). The demo's file printers live in var/printers.
PRINTER_ALLOWED_NETWORKS = env.list(
    "PRINTER_ALLOWED_NETWORKS",
    default=["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "::1/128", "fc00::/7"],
)
_service_ports = {22, 25, 53, 80, 443, 5432, 6379, 8000}
_service_ports.add(int(DATABASES["default"].get("PORT") or 5432))
_service_ports.add(urlparse(REDIS_URL).port or 6379)
PRINTER_BLOCKED_PORTS = env.list("PRINTER_BLOCKED_PORTS", cast=int, default=sorted(_service_ports))
PRINTER_DEVICE_DIRS = env.list("PRINTER_DEVICE_DIRS", default=["/dev/usb", str(BASE_DIR / "var" / "printers")])
if TESTING:  # tests write their file printers under the temporary directory
    PRINTER_DEVICE_DIRS = [*PRINTER_DEVICE_DIRS, tempfile.gettempdir()]

# --- Auth ---------------------------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# --- I18N, money --------------------------------------------------------------------------------------------
# The language of a request: the signed-in user's own (StaffProfile.language), else the paired terminal's, else its
# store's (Location.language), else the browser's (LocaleMiddleware), else LANGUAGE_CODE (staff/languages.py).
# Receipts and kitchen tickets print in the store's language. Adding a language: docs/TRANSLATING.md.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("id", "Bahasa Indonesia")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

POS_CURRENCY = env("POS_CURRENCY", default="EUR")
POS_CURRENCY_DECIMALS = env.int("POS_CURRENCY_DECIMALS", default=2)
POS_STORE_NAME = env("POS_STORE_NAME", default="Tillhouse")
# Gift cards and store credit (billing/giftcards.py): days from issue until a card's balance expires (0 or empty:
# never, as many local rules require), and the most one card may hold.
GIFT_CARD_EXPIRY_DAYS = int(env("GIFT_CARD_EXPIRY_DAYS", default="") or 0)
GIFT_CARD_MAX_BALANCE = env.str("GIFT_CARD_MAX_BALANCE", default="5000")
# Largest discount in percent each role may give without a manager's approval: "Cashier=10,Waiter=5".
POS_DISCOUNT_LIMITS = {
    role: Decimal(limit)
    for role, limit in env.dict("POS_DISCOUNT_LIMITS", default={"Cashier": "10", "Waiter": "5"}).items()
}
# Closing a till: a count off by more than this needs a manager's sign-off; the notes and coins counted by the
# blind count, largest first (strings in the currency's unit).
CASH_OVER_SHORT_APPROVAL_THRESHOLD = env.str("CASH_OVER_SHORT_APPROVAL_THRESHOLD", default="5.00")
CASH_DENOMINATIONS = env.list(
    "CASH_DENOMINATIONS",
    default=["500", "200", "100", "50", "20", "10", "5", "2", "1", "0.50", "0.20", "0.10", "0.05", "0.02", "0.01"],
)
# POS terminal: lock after this many idle seconds; PIN lockout after repeated failures.
POS_IDLE_LOCK_SECONDS = env.int("POS_IDLE_LOCK_SECONDS", default=120)
POS_PIN_MAX_ATTEMPTS = env.int("POS_PIN_MAX_ATTEMPTS", default=5)
POS_PIN_LOCKOUT_MINUTES = env.int("POS_PIN_LOCKOUT_MINUTES", default=15)
# ... and per client address (all staff together, counted in the cache): wrong PINs within the window lock the terminal.
POS_PIN_IP_MAX_ATTEMPTS = env.int("POS_PIN_IP_MAX_ATTEMPTS", default=30)
POS_PIN_IP_WINDOW_MINUTES = env.int("POS_PIN_IP_WINDOW_MINUTES", default=15)
# ... and per store (all its terminals together), so that many terminals cannot guess PINs in parallel.
POS_PIN_STORE_MAX_ATTEMPTS = env.int("POS_PIN_STORE_MAX_ATTEMPTS", default=60)
POS_PIN_STORE_WINDOW_MINUTES = env.int("POS_PIN_STORE_WINDOW_MINUTES", default=15)
# Digits in a new PIN (PINs set earlier keep working); trivially guessable ones are refused (staff/pins.py).
POS_PIN_LENGTH = env.int("POS_PIN_LENGTH", default=6)
# The secret PINs are hashed with (staff.pins); empty: SECRET_KEY (and SECRET_KEY_FALLBACKS when it is rotated).
POS_PIN_SECRET = env("POS_PIN_SECRET", default="")
POS_LONG_OPEN_MINUTES = env.int("POS_LONG_OPEN_MINUTES", default=90)
# Paired terminals (staff/terminals.py): how long a device's cookie lasts, how long a pairing code shown on an
# unpaired device stays valid, how many codes one address may ask for in an hour, and how many wrong codes a manager
# may type within 15 minutes.
POS_TERMINAL_COOKIE_DAYS = env.int("POS_TERMINAL_COOKIE_DAYS", default=730)
POS_PAIRING_CODE_MINUTES = env.int("POS_PAIRING_CODE_MINUTES", default=10)
POS_PAIRING_CODES_PER_HOUR = env.int("POS_PAIRING_CODES_PER_HOUR", default=20)
POS_PAIRING_MAX_WRONG_CODES = env.int("POS_PAIRING_MAX_WRONG_CODES", default=10)

# --- Static files -------------------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")  # collectstatic writes here
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Request limits -----------------------------------------------------------------------------------------
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

# --- Security -----------------------------------------------------------------------------------------------
# On by default in production; behind a proxy that terminates TLS set SECURE_SSL_REDIRECT=False and
# SECURE_PROXY_SSL_HEADER_ENABLED=True (see .env.example).
_production = not DEBUG and not TESTING
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=_production)
SECURE_REDIRECT_EXEMPT = [r"^health", r"^metrics"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if _production else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=_production)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=_production)
POS_TERMINAL_COOKIE_SECURE = env.bool("POS_TERMINAL_COOKIE_SECURE", default=_production)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# Database sessions that a read never fails to answer during a restore (the change is not saved then).
SESSION_ENGINE = "core.sessions"
CSRF_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Inline <script> needs nonce="{{ request.csp_nonce }}"; inline styles are allowed (htmx, Swagger UI use them).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
# Staff are signed out after this many minutes without a request (sliding; 0 = never).
SESSION_IDLE_TIMEOUT_MINUTES = env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=15)
# Login lockout (django-axes): per username + client IP, and per client IP across usernames (staff.security);
# lifted after the cool-off or by a manager.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_HANDLER = "staff.security.LoginThrottleHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=20)  # all usernames together; 0 = no such limit
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15)) or None
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# The client address, one policy for logs, the lockout and the PIN limits (core.client_ip): the header the
# proxy overwrites (deploy/nginx.conf: X-Real-IP; empty: X-Forwarded-For) counts only when the direct peer is one of
# TRUSTED_PROXIES (addresses or CIDRs).
PROXY_CLIENT_IP_HEADER = env("PROXY_CLIENT_IP_HEADER", default="")
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=["127.0.0.0/8", "::1"])
AXES_CLIENT_IP_CALLABLE = "core.client_ip.axes_client_ip"
# Two-factor (TOTP, django-otp) for the admin: enrol devices under "TOTP devices" first, then switch it on.
ADMIN_OTP_REQUIRED = env.bool("ADMIN_OTP_REQUIRED", default=False)
OTP_TOTP_ISSUER = env("POS_STORE_NAME", default="Tillhouse")

# --- REST framework -----------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # API clients' scoped tokens (staff/api_clients.py); first, so a missing or bad token answers 401.
        "staff.auth.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "staff.auth.TokenScope"],
    "DEFAULT_PAGINATION_CLASS": "inventory.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tillhouse API",
    "DESCRIPTION": "Catalogue, stock, orders, checkout, refunds, cash sessions and reports.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],  # the schema and docs for signed-in callers
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Request bodies are documented as JSON, what clients send; the browsable API's forms stay accepted.
    "PARSER_WHITELIST": ["rest_framework.parsers.JSONParser"],
    # Several models have a `status` or `kind`: name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "orders.models.Order.Status",
        "OrderLineStatusEnum": "orders.models.OrderLine.Status",
        "KitchenTicketStatusEnum": "orders.models.KitchenTicket.Status",
        "DiscountKindEnum": "orders.models.Order.DiscountKind",
        "ReceiptKindEnum": "billing.models.Receipt.Kind",
        "TenderEnum": "billing.models.Payment.Tender",
    },
}

# --- Logging ------------------------------------------------------------------------------------------------
# JSON lines on stdout (request id, user, method, path, status, latency, client ip; secrets masked: ops.logging);
# a human-readable format when DEBUG is on. LOG_FORMAT=json|text overrides.
LOG_LEVEL = env("LOG_LEVEL", default="INFO").upper()
LOG_FORMAT = env("LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_context": {"()": "ops.logging.RequestContextFilter"}},
    "formatters": {"json": {"()": "ops.logging.JsonFormatter"}, "text": {"()": "ops.logging.TextFormatter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": LOG_FORMAT,
            "filters": ["request_context"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "django.server": {"level": "WARNING"},  # runserver's own access line; ours carries the request id
    },
}

# --- Health, metrics, error tracking ------------------------------------------------------------------------
APP_VERSION = env("APP_VERSION", default="0.1.0")
HEALTH_BUDGET_SECONDS = env.float("HEALTH_BUDGET_SECONDS", default=2.0)  # whole report, at most 2 s
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=1.0)
# The full report is kept in the cache for every process this long, then served this much longer while one
# process refreshes it (ops/health.py).
HEALTH_CACHE_SECONDS = env.float("HEALTH_CACHE_SECONDS", default=5)
HEALTH_STALE_SECONDS = env.float("HEALTH_STALE_SECONDS", default=30)
HEALTH_SLOW_MS = env.float("HEALTH_SLOW_MS", default=250)
HEALTH_CELERY_PING_TIMEOUT = env.float("HEALTH_CELERY_PING_TIMEOUT", default=0.5)
HEALTH_QUEUE_WARN_DEPTH = env.int("HEALTH_QUEUE_WARN_DEPTH", default=100)
HEALTH_DISK_WARN_PERCENT = env.float("HEALTH_DISK_WARN_PERCENT", default=15)
HEALTH_DISK_FAIL_PERCENT = env.float("HEALTH_DISK_FAIL_PERCENT", default=5)
HEALTH_DB_CONNECTIONS_WARN_RATIO = env.float("HEALTH_DB_CONNECTIONS_WARN_RATIO", default=0.8)
INTEGRITY_MAX_AGE_HOURS = env.int("INTEGRITY_MAX_AGE_HOURS", default=26)
# /metrics answers these addresses (REMOTE_ADDR, CIDRs allowed), or anyone sending "Authorization: Bearer <token>".
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=["127.0.0.1", "::1"])
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN", default="")
# Several gunicorn workers: every process writes its metrics here (deploy/gunicorn.conf.py wipes it at start).
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="development" if DEBUG else "production")
if SENTRY_DSN and not TESTING:
    from ops.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        release=env("SENTRY_RELEASE", default="") or f"tillhouse@{APP_VERSION}",
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )

# --- Alerts and backups -------------------------------------------------------------------------------------
# Alerts go to a webhook when NOTIFY_WEBHOOK_URL is set (Slack, Discord, Telegram, Uptime Kuma push or plain JSON:
# ops/notify.py), otherwise to the log.
NOTIFY_WEBHOOK_URL = env("NOTIFY_WEBHOOK_URL", default="")
NOTIFY_WEBHOOK_KIND = env("NOTIFY_WEBHOOK_KIND", default="")  # slack|discord|telegram|kuma|json; empty: from the URL
NOTIFY_TELEGRAM_CHAT_ID = env("NOTIFY_TELEGRAM_CHAT_ID", default="")
NOTIFIER = env("NOTIFIER", default="ops.notify.webhook_notifier" if NOTIFY_WEBHOOK_URL else "core.notify.log_notifier")
BACKUP_RPO_HOURS = env.int("BACKUP_RPO_HOURS", default=24)
BACKUP_MAX_AGE_HOURS = env.int("BACKUP_MAX_AGE_HOURS", default=26)
# Archives go to the "backups" storage (a local directory by default); "backups_offsite" (an S3-compatible bucket)
# gets a copy when BACKUP_S3_BUCKET is set. Times are local (TIME_ZONE); beat ticks in UTC and decides locally.
BACKUP_DIR = env.path("BACKUP_DIR", default=BASE_DIR / "var" / "backups")
STORAGES["backups"] = {
    "BACKEND": "django.core.files.storage.FileSystemStorage",
    "OPTIONS": {"location": str(BACKUP_DIR), "file_permissions_mode": 0o600, "directory_permissions_mode": 0o700},
}
if env("BACKUP_S3_BUCKET", default=""):
    STORAGES["backups_offsite"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("BACKUP_S3_BUCKET"),
            "location": env("BACKUP_S3_PREFIX", default="tillhouse"),
            "endpoint_url": env("BACKUP_S3_ENDPOINT_URL", default="") or None,
            "region_name": env("BACKUP_S3_REGION", default="") or None,
            "access_key": env("BACKUP_S3_ACCESS_KEY_ID", default="") or None,
            "secret_key": env("BACKUP_S3_SECRET_ACCESS_KEY", default="") or None,
            "file_overwrite": False,
        },
    }
BACKUP_NIGHTLY_AT = env("BACKUP_NIGHTLY_AT", default="02:00")
BACKUP_DRILL_AT = env("BACKUP_DRILL_AT", default="04:00")
BACKUP_KEEP = {
    "daily": env.int("BACKUP_KEEP_DAILY", default=7),
    "weekly": env.int("BACKUP_KEEP_WEEKLY", default=4),
    "monthly": env.int("BACKUP_KEEP_MONTHLY", default=3),
    "pre-deploy": env.int("BACKUP_KEEP_PRE_DEPLOY", default=5),
}
BACKUP_GPG_PUBLIC_KEY = env("BACKUP_GPG_PUBLIC_KEY", default="")  # armored public key file: encrypt archives to it
BACKUP_GPG_PRIVATE_KEY = env("BACKUP_GPG_PRIVATE_KEY", default="")  # only where restores/drills of encrypted run
BACKUP_PG_BIN_DIR = env("BACKUP_PG_BIN_DIR", default="")  # where pg_dump/pg_restore live; empty: PATH
BACKUP_MAX_BYTES = env.int("BACKUP_MAX_BYTES", default=0)  # refuse archives larger than this; 0: no cap
BACKUP_SCRATCH_DB_PREFIX = env("BACKUP_SCRATCH_DB_PREFIX", default="")  # drill databases; empty: "<db>_drill_"
# Maintenance mode during a restore (ops/maintenance.py): the Retry-After of a refused write, and how often each
# process re-reads the flag.
MAINTENANCE_RETRY_AFTER = env.int("MAINTENANCE_RETRY_AFTER", default=30)
MAINTENANCE_CHECK_SECONDS = env.float("MAINTENANCE_CHECK_SECONDS", default=2.0)
for _name in ("nightly", "drill"):
    CELERY_BEAT_SCHEDULE[f"ops.backups.{_name}"] = {"task": f"ops.backups.{_name}", "schedule": crontab(minute="*/15")}
for _name, _minute in (("promote", 35), ("retention", 40)):
    CELERY_BEAT_SCHEDULE[f"ops.backups.{_name}"] = {"task": f"ops.backups.{_name}", "schedule": crontab(minute=_minute)}

# Point-in-time recovery (ops/backups/pitr.py): PostgreSQL's WAL archived continuously by pgBackRest to a repository
# on the backup volume (and to an S3-compatible bucket when PGBACKREST_S3_BUCKET is set), full backups weekly and
# differential ones nightly, kept PGBACKREST_RETENTION_DAYS; `manage.py restore --to <time>|latest`. The generated
# pgBackRest configuration is written to PGBACKREST_CONFIG; pgBackRest and pg_ctl run as PGBACKREST_RUN_AS (when this
# process is root) on the machine holding the cluster's data directory (PGBACKREST_PG1_PATH).
PITR_ENABLED = env.bool("PITR_ENABLED", default=False)
_pitr_dir = Path(str(BACKUP_DIR)) / "pgbackrest"
PGBACKREST_BIN = env("PGBACKREST_BIN", default="pgbackrest")
PGBACKREST_STANZA = env("PGBACKREST_STANZA", default="tillhouse")
PGBACKREST_CONFIG = Path(env("PGBACKREST_CONFIG", default=str(_pitr_dir / "pgbackrest.conf")))
PGBACKREST_REPO_PATH = Path(env("PGBACKREST_REPO_PATH", default=str(_pitr_dir / "repo")))
PGBACKREST_CIPHER_PASS = env("PGBACKREST_CIPHER_PASS", default="")  # aes-256-cbc repository encryption; empty: off
PGBACKREST_RETENTION_DAYS = env.int("PGBACKREST_RETENTION_DAYS", default=14)  # restore to any second this far back
PGBACKREST_RUN_AS = env("PGBACKREST_RUN_AS", default="")  # e.g. postgres: runuser -u <it> when this process is root
PGBACKREST_PG1_PATH = env("PGBACKREST_PG1_PATH", default="")  # the cluster's data directory
PGBACKREST_PG1_PORT = env.int("PGBACKREST_PG1_PORT", default=int(DATABASES["default"].get("PORT") or 5432))
PGBACKREST_PG1_SOCKET_PATH = env("PGBACKREST_PG1_SOCKET_PATH", default="")
PGBACKREST_PG1_USER = env("PGBACKREST_PG1_USER", default="")
PGBACKREST_S3_BUCKET = env("PGBACKREST_S3_BUCKET", default="")
PGBACKREST_S3_ENDPOINT = env("PGBACKREST_S3_ENDPOINT", default="s3.amazonaws.com")  # host[:port] or https://host:port
PGBACKREST_S3_REGION = env("PGBACKREST_S3_REGION", default="us-east-1")
PGBACKREST_S3_KEY = env("PGBACKREST_S3_KEY", default="")
PGBACKREST_S3_KEY_SECRET = env("PGBACKREST_S3_KEY_SECRET", default="")
PGBACKREST_S3_PATH = env("PGBACKREST_S3_PATH", default="/tillhouse")
PGBACKREST_S3_URI_STYLE = env("PGBACKREST_S3_URI_STYLE", default="host")  # path for MinIO and other local servers
PGBACKREST_S3_VERIFY_TLS = env.bool("PGBACKREST_S3_VERIFY_TLS", default=True)
# At most this many seconds of committed work are outside the archive (PostgreSQL's archive_timeout): well under the
# 60 s RPO, leaving time for the push itself.
PITR_ARCHIVE_TIMEOUT = env.int("PITR_ARCHIVE_TIMEOUT", default=30)
PITR_RPO_SECONDS = env.int("PITR_RPO_SECONDS", default=60)
PITR_MAX_LAG_SECONDS = env.int("PITR_MAX_LAG_SECONDS", default=300)  # /health fails, the alert fires, past this
# Stopping and starting the cluster for a restore: pg_ctl in PITR_PG_BIN_DIR on PGBACKREST_PG1_PATH by default, or
# these shell commands (e.g. `systemctl stop postgresql@15-main`).
PITR_PG_BIN_DIR = env("PITR_PG_BIN_DIR", default=BACKUP_PG_BIN_DIR or "/usr/lib/postgresql/15/bin")
PITR_STOP_COMMAND = env("PITR_STOP_COMMAND", default="")
PITR_START_COMMAND = env("PITR_START_COMMAND", default="")
PITR_RECOVERY_TIMEOUT = env.int("PITR_RECOVERY_TIMEOUT", default=3600)
# Full backup on this local weekday (0 = Monday), differential the other nights, at PITR_BACKUP_AT local time; the
# nightly drill restores "now - PITR_DRILL_LOOKBACK_MINUTES" into a scratch cluster on PITR_DRILL_PORT.
PITR_FULL_WEEKDAY = env.int("PITR_FULL_WEEKDAY", default=6)
PITR_BACKUP_AT = env("PITR_BACKUP_AT", default="01:30")
PITR_DRILL_AT = env("PITR_DRILL_AT", default="04:30")
PITR_DRILL_LOOKBACK_MINUTES = env.int("PITR_DRILL_LOOKBACK_MINUTES", default=60)
PITR_DRILL_PORT = env.int("PITR_DRILL_PORT", default=5499)
PITR_DRILL_DIR = Path(env("PITR_DRILL_DIR", default=str(_pitr_dir / "drill")))
# True where the cluster's data directory is not on this machine (docker-compose.prod.yml: the db container archives
# and takes the pgBackRest backups): this process watches the archive (/health, /ops/backups/, /metrics), beat
# schedules no pgBackRest backup or PITR drill here, and /health does not ask for them.
PITR_WATCH_ONLY = env.bool("PITR_WATCH_ONLY", default=False)
# Beat closes the current WAL segment (pg_switch_wal) this often when a transaction that wrote has started since the
# last switch: committed work waits at most this long plus a push outside the archive, whether or not the server's
# archive_timeout fires. Needs only SQL, so it runs with PITR_WATCH_ONLY too; the database user needs EXECUTE on
# pg_switch_wal() (a superuser has it). 0: off (archive_timeout alone).
PITR_SWITCH_SECONDS = env.int("PITR_SWITCH_SECONDS", default=20)
if PITR_ENABLED and PITR_SWITCH_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["ops.backups.pitr_switch_wal"] = {
        "task": "ops.backups.pitr_switch_wal",
        "schedule": float(PITR_SWITCH_SECONDS),
        "options": {"expires": float(PITR_SWITCH_SECONDS)},
    }
# Where pgBackRest's backups run: "local" (here, beside the data directory) or "sql": in the database server, as its
# OS user, through `COPY ... FROM PROGRAM` with the server's own configuration PGBACKREST_SERVER_CONFIG
# (docker-compose.prod.yml: the db container; the user needs superuser or pg_execute_server_program). With "sql",
# beat takes the weekly full and nightly differential backups even with PITR_WATCH_ONLY; the drill still needs
# "local" (it starts a scratch cluster).
PITR_PGBACKREST_VIA = env("PITR_PGBACKREST_VIA", default="local")
if PITR_PGBACKREST_VIA not in ("local", "sql"):
    raise ImproperlyConfigured("PITR_PGBACKREST_VIA must be local or sql")
PGBACKREST_SERVER_CONFIG = env("PGBACKREST_SERVER_CONFIG", default="/etc/pgbackrest/pgbackrest.conf")
_pitr_backups_here = PITR_ENABLED and (not PITR_WATCH_ONLY or PITR_PGBACKREST_VIA == "sql")  # pitr.backups_here()
for _name, _on in (("pitr_backup", _pitr_backups_here), ("pitr_drill", PITR_ENABLED and not PITR_WATCH_ONLY)):
    if _on:
        CELERY_BEAT_SCHEDULE[f"ops.backups.{_name}"] = {
            "task": f"ops.backups.{_name}",
            "schedule": crontab(minute="*/15"),
        }
