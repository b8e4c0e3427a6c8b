"""Thumbnails of private images stay private: easy-thumbnails in a real Django project.

The AWS example stack is created on a moto server with IAM enforced; a Django project (a
subprocess: its own settings, apps and database) takes its storage settings from
`storagectl settings --format python` and a model field written as docs/django-settings.md says. Only
the endpoint is swapped for the moto server, as `storagectl verify --endpoint-url` does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from storagectl.offline import Evaluation
from tests.support.cli_project import invoke
from tests.support.moto_verify import Deployment, deploy, iam_enforced, reset_moto

SITE = "acme-stage"
PRIVATE = "acme-media-acme-stage-private"
PUBLIC = "acme-media-acme-stage-public"
SETTINGS = """\
from storage_settings import *  # noqa: F403 (what `storagectl settings --format python` printed)

SECRET_KEY = "test"
USE_TZ = True
INSTALLED_APPS = ["easy_thumbnails", "scans"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
"""
# docs/django-settings.md, "Private files and their thumbnails".
MODELS = """\
from django.core.files.storage import storages
from django.db import models
from easy_thumbnails.fields import ThumbnailerImageField


def private_storage():
    return storages["private"]


class Scan(models.Model):
    image = ThumbnailerImageField(
        upload_to="scans/",
        storage=private_storage,
        thumbnail_storage=storages["easy_thumbnails_private"],
    )


class Photo(models.Model):
    image = ThumbnailerImageField(upload_to="photos/")
"""
RUN = """\
import io, json
import django
django.setup()
from django.core.files.base import ContentFile
from django.core.management import call_command
from PIL import Image
from scans.models import Photo, Scan

call_command("migrate", run_syncdb=True, verbosity=0)
png = io.BytesIO()
Image.new("RGB", (64, 48), (200, 30, 30)).save(png, "PNG")
urls = {}
for model in (Scan, Photo):
    item = model()
    item.image.save("picture.png", ContentFile(png.getvalue()))
    thumbnail = item.image.get_thumbnail({"size": (16, 16)})
    urls[model.__name__] = {"source": item.image.url, "thumbnail": thumbnail.url, "name": thumbnail.name}
print(json.dumps(urls))
"""


@pytest.fixture
def deployed(aws_stack: Evaluation, moto_endpoint: str) -> Deployment:
    reset_moto(moto_endpoint)
    return deploy(aws_stack, moto_endpoint)


def _on_endpoint(outputs: dict[str, Any], endpoint: str) -> dict[str, Any]:
    for storage in outputs["site_settings"][SITE]["STORAGES"].values():
        if "OPTIONS" in storage:
            storage["OPTIONS"].update(endpoint_url=endpoint, addressing_style="path")
    return outputs


def _project(directory: Path, deployment: Deployment) -> Path:
    outputs = directory / "outputs.json"
    outputs.write_text(json.dumps(_on_endpoint(deployment.outputs(), deployment.endpoint)), encoding="utf-8")
    printed = invoke("settings", SITE, "--outputs", str(outputs), "--format", "python")
    assert printed.exit_code == 0, printed.stderr
    outputs.unlink()
    (directory / "storage_settings.py").write_text(printed.stdout, encoding="utf-8")
    (directory / "settings.py").write_text(SETTINGS, encoding="utf-8")
    (directory / "scans").mkdir()
    (directory / "scans" / "__init__.py").write_text("", encoding="utf-8")
    (directory / "scans" / "models.py").write_text(MODELS, encoding="utf-8")
    (directory / "run.py").write_text(RUN, encoding="utf-8")
    return directory


def test_a_thumbnail_of_a_private_image_is_not_readable_anonymously(deployed: Deployment, tmp_path: Path) -> None:
    project = _project(tmp_path, deployed)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(PYTHONPATH=str(project), DJANGO_SETTINGS_MODULE="settings")
    with iam_enforced():
        ran = subprocess.run(
            [sys.executable, "run.py"], cwd=project, env=environment, capture_output=True, text=True, timeout=120
        )
    assert ran.returncode == 0, ran.stderr
    urls = json.loads(ran.stdout.strip().splitlines()[-1])
    scan, photo = urls["Scan"], urls["Photo"]
    # The private image's thumbnail: in the private bucket, signed, refused without the signature.
    assert f"/{PRIVATE}/" in scan["thumbnail"] and "X-Amz-Signature=" in scan["thumbnail"]
    assert requests.get(scan["thumbnail"].split("?")[0], timeout=10).status_code == 403
    signed = requests.get(scan["thumbnail"], timeout=10)
    assert signed.status_code == 200 and signed.content.startswith(b"\xff\xd8")  # JPEG, easy-thumbnails default
    assert requests.get(scan["source"].split("?")[0], timeout=10).status_code == 403
    listed = deployed.s3().list_objects_v2(Bucket=PRIVATE)["Contents"]
    assert scan["name"] in {item["Key"] for item in listed}
    # Control: a public image's thumbnail goes to the public bucket and anyone may read it, which is
    # where a private image's thumbnail would go without thumbnail_storage.
    assert f"/{PUBLIC}/" in photo["thumbnail"] and "X-Amz-Signature" not in photo["thumbnail"]
    assert requests.get(photo["thumbnail"], timeout=10).status_code == 200
