"""`GET /v1/tenants/{tenant}/invoices/{month}:pdf`: an invoice as PDF, beside its JSON (the REST
twin's GetInvoice). One GetInvoice call through the gateway's own gRPC port, with the caller's
credentials, so it is authorised, scoped and audited like the JSON; then the same bytes as
`maas invoices show --pdf` (`maas.cli.billing.invoice_pdf`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
from aiohttp import web

from maas.cli.billing import invoice_pdf
from maas.gateway.v1 import admin_pb2
from services.gateway.rest.openapi import GRPC_METHOD

PATH = "/v1/tenants/{tenant}/invoices/{month}:pdf"
_GET_INVOICE = "/maas.gateway.v1.AdminService/GetInvoice"


def openapi_paths() -> dict:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}, "description": text}
        for name, text in (("tenant", "tenant id, or - for the caller's own"), ("month", "YYYY-MM, or current"))
    ]
    error = {"$ref": "#/components/schemas/Error"}
    return {
        "/v1/tenants/{tenant}/invoices/{month}:pdf": {
            "get": {
                "tags": ["AdminService"],
                "summary": "An invoice as PDF (the same lines and total as GetInvoice)",
                "operationId": "GetInvoicePdf",
                GRPC_METHOD: _GET_INVOICE,
                "parameters": parameters,
                "responses": {
                    "200": {
                        "description": "The invoice",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    "default": {"description": "An error", "content": {"application/json": {"schema": error}}},
                },
            }
        }
    }


def add_invoice_pdf(
    app: web.Application,
    channel: Callable[[], grpc.aio.Channel],
    metadata: Callable[[web.Request], tuple],
    error_response: Callable[[BaseException], web.Response],
) -> None:
    """The route on `app`: GetInvoice on `channel()` with the request's `metadata`, then the PDF."""

    async def pdf(request: web.Request) -> web.Response:
        name = f"tenants/{request.match_info['tenant']}/invoices/{request.match_info['month']}"
        get_invoice = channel().unary_unary(
            _GET_INVOICE,
            request_serializer=admin_pb2.GetInvoiceRequest.SerializeToString,
            response_deserializer=admin_pb2.Invoice.FromString,
        )
        try:
            invoice = await get_invoice(admin_pb2.GetInvoiceRequest(name=name), metadata=metadata(request))
        except grpc.aio.AioRpcError as error:
            return error_response(error)
        body = await asyncio.to_thread(invoice_pdf, invoice)
        disposition = f'attachment; filename="invoice-{invoice.month}.pdf"'
        headers = {"content-disposition": disposition, "cache-control": "no-store"}
        return web.Response(body=body, content_type="application/pdf", headers=headers)

    app.router.add_get(PATH, pdf)
