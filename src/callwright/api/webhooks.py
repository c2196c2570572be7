"""Webhook targets of an agent, the delivery log and the manual retry."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from callwright.api.deps import Org, Svc
from callwright.api.params import Cursor, Limit
from callwright.domain.webhook import (
    DeliveryStatus,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookEvent,
    WebhookTargetIn,
    WebhookTargetList,
    WebhookTargetOut,
    WebhookTargetUpdate,
)
from callwright.services.webhooks import deliveries, targets

router = APIRouter(tags=["webhooks"])


@router.post("/v1/agents/{agent_id}/webhooks", status_code=201, response_model=WebhookTargetOut)
async def create_webhook(agent_id: uuid.UUID, body: WebhookTargetIn, org: Org, svc: Svc) -> WebhookTargetOut:
    """The response is the only place the full signing secret is ever shown."""
    return await targets.create_target(
        svc.db, svc.secrets, org.org_id, agent_id, body, svc.settings.allow_private_urls
    )


@router.get("/v1/agents/{agent_id}/webhooks", response_model=WebhookTargetList)
async def list_webhooks(agent_id: uuid.UUID, org: Org, svc: Svc) -> WebhookTargetList:
    return WebhookTargetList(data=await targets.list_targets(svc.db, svc.secrets, org.org_id, agent_id))


@router.patch("/v1/agents/{agent_id}/webhooks/{webhook_id}", response_model=WebhookTargetOut)
async def update_webhook(
    agent_id: uuid.UUID, webhook_id: uuid.UUID, body: WebhookTargetUpdate, org: Org, svc: Svc
) -> WebhookTargetOut:
    return await targets.update_target(
        svc.db, svc.secrets, org.org_id, agent_id, webhook_id, body, svc.settings.allow_private_urls
    )


@router.delete("/v1/agents/{agent_id}/webhooks/{webhook_id}", status_code=204, response_class=Response)
async def delete_webhook(agent_id: uuid.UUID, webhook_id: uuid.UUID, org: Org, svc: Svc) -> Response:
    await targets.delete_target(svc.db, org.org_id, agent_id, webhook_id)
    return Response(status_code=204)


@router.get("/v1/webhook-deliveries", response_model=WebhookDeliveryPage)
async def list_webhook_deliveries(
    org: Org,
    svc: Svc,
    status: DeliveryStatus | None = None,
    event: WebhookEvent | None = None,
    call_id: uuid.UUID | None = None,
    target_id: uuid.UUID | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> WebhookDeliveryPage:
    return await deliveries.list_deliveries(
        svc.db, org.org_id, limit=limit, cursor=cursor, status=status, event=event, call_id=call_id,
        target_id=target_id,
    )


@router.get("/v1/webhook-deliveries/{delivery_id}", response_model=WebhookDeliveryOut)
async def get_webhook_delivery(delivery_id: uuid.UUID, org: Org, svc: Svc) -> WebhookDeliveryOut:
    return await deliveries.get_delivery(svc.db, org.org_id, delivery_id)


@router.post("/v1/webhook-deliveries/{delivery_id}/retry", response_model=WebhookDeliveryOut)
async def retry_webhook_delivery(delivery_id: uuid.UUID, org: Org, svc: Svc) -> WebhookDeliveryOut:
    """Send it again now, with its original `webhook-id` and body."""
    return await deliveries.retry_delivery(svc.db, org.org_id, delivery_id)
