from __future__ import annotations

import codecs
import json
from decimal import Decimal
from typing import Any

from rest_framework import exceptions
from rest_framework.parsers import JSONParser


class DecimalJSONParser(JSONParser):
    """JSON bodies with numbers kept exact: 0.1 arrives as Decimal("0.1"), never as a float."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return json.load(codecs.getreader("utf-8")(stream), parse_float=Decimal)
        except ValueError as exc:
            raise exceptions.ParseError("Request body is not valid JSON") from exc
