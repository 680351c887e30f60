# Release settings, for the images: MariaDB from the environment and the
# swarm secret, static files collected to the volume at /public.
import os

from .settings import *  # noqa: F401,F403


def _secret(path):
    # collectstatic runs without the secret (it never opens the database),
    # so a missing file is an empty password, not an error at import time.
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


SECRET_KEY = os.environ.get("SECRET_KEY", SECRET_KEY)  # noqa: F405
DEBUG = False
ALLOWED_HOSTS = ["*"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.mysql",
        "NAME": os.environ.get("MYSQL_DATABASE", "todobackend"),
        "USER": os.environ.get("MYSQL_USER", "todo"),
        "PASSWORD": _secret(os.environ.get("MYSQL_PASSWORD_FILE", "/run/secrets/MYSQL_PASSWORD")),
        "HOST": os.environ.get("MYSQL_HOST", "localhost"),
        "PORT": os.environ.get("MYSQL_PORT", "3306"),
    }
}

STATIC_ROOT = "/public"
