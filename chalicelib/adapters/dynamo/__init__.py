"""DynamoDB: the single table (`table`), and the repositories over it."""

from chalicelib.adapters.dynamo.campaigns import CampaignRepo
from chalicelib.adapters.dynamo.recipients import RecipientRepo
from chalicelib.adapters.dynamo.table import ACTIVE, DUE, Page, Table, campaign_pk, recipient_sk

__all__ = ["ACTIVE", "DUE", "CampaignRepo", "Page", "RecipientRepo", "Table", "campaign_pk", "recipient_sk"]
