"""The gateway reflects every service it routes, TF Serving's from the shipped descriptor set,
which must be what tensorflow-serving-api has."""

import subprocess
import sys
from pathlib import Path

from services.gateway.reflection import reflection_pool
from services.gateway.routes import build_routes
from services.gateway.servicer import ADMIN_SERVICE

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_tf_serving_descriptors_are_fresh():
    check = subprocess.run(
        [sys.executable, "tools/tf_serving_descriptors.py", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_reflection_pool_describes_every_routed_method():
    routes = build_routes()
    pool = reflection_pool([ADMIN_SERVICE.full_name, *{m.split("/")[1] for m in routes}])
    for method in routes:
        service, name = method.lstrip("/").split("/")
        assert name in pool.FindServiceByName(service).methods_by_name, method
    assert pool.FindMessageTypeByName("tensorflow.serving.PredictRequest").fields_by_name["inputs"]
