"""Structured JSON logs (Powertools), with phone numbers masked and no secrets or message bodies."""

from __future__ import annotations

from aws_lambda_powertools import Logger

log = Logger(service="msgcampaigns")
