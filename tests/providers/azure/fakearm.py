"""A respx fake of ARM's Cognitive Services deployments of one account (sub-1 / rg-tuneops / res), answering
with the fixtures the management SDK's keys are checked against. Loaded by conftest.py as ``fakearm``."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import respx
from fakeopenai import load

FIXTURES = Path(__file__).with_name("fixtures")
ARM = ("https://management.azure.com/subscriptions/sub-1/resourceGroups/rg-tuneops/providers/"
       "Microsoft.CognitiveServices/accounts/res/deployments")
ARM_TOKEN = "arm-token-0123456789"


class FakeArm:
    """ARM deployments of one account: PUT (create or update by name), GET, DELETE."""

    def __init__(self, router: respx.MockRouter):
        self.deployments: dict[str, dict[str, Any]] = {}
        self.puts = 0
        self.lose_next_put = False
        url = rf"^{re.escape(ARM)}/(?P<name>[^/?]+)(\?.*)?$"
        router.route(method="PUT", url__regex=url).mock(side_effect=self.put)
        router.route(method="GET", url__regex=url).mock(side_effect=self.get)
        router.route(method="DELETE", url__regex=url).mock(side_effect=self.delete)

    def put(self, request: httpx.Request, name: str) -> httpx.Response:
        assert request.headers["authorization"] == f"Bearer {ARM_TOKEN}"
        self.puts += 1
        body = json.loads(request.content)
        dep = load("deployment_creating.json", FIXTURES)
        dep.update(id=dep["id"].rsplit("/", 1)[0] + "/" + name, name=name, sku=body["sku"])
        dep["properties"]["model"] = body["properties"]["model"]
        self.deployments[name] = dep
        if self.lose_next_put:
            self.lose_next_put = False
            return httpx.Response(503, json=load("arm_error_409.json", FIXTURES))
        return httpx.Response(201, json=dep)

    def get(self, request: httpx.Request, name: str) -> httpx.Response:
        dep = self.deployments.get(name)
        if dep is None:
            return httpx.Response(404, json={"error": {"code": "DeploymentNotFound", "message": f"{name} not found"}})
        dep["properties"]["provisioningState"] = "Succeeded"  # comes up after one look
        return httpx.Response(200, json=dep)

    def delete(self, request: httpx.Request, name: str) -> httpx.Response:
        return httpx.Response(200 if self.deployments.pop(name, None) else 204)
