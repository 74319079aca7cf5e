"""Motor policy documents (issue 4 item 6, decision 0049): the policy schedule, the CMI
certificate and the receipt / tax invoice as PDFs in Thai or English, stored by content hash
(polis.documents.storage) and recorded as motor.policy_documents rows with versions.

Every document is drawn with the vendored Sarabun font and uharfbuzz text shaping (Thai vowels
and tone marks placed; English documents use the same font so Thai names print). A document is
identified by its `document_name` (type, policy or receipt number, language): rendering it again
adds version n+1 of that name; older versions stay downloadable. Services only flush.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import get_settings
from polis.documents import pdf
from polis.documents.storage import DocumentStore, sha256_of_path
from polis.motor.document_schemas import (
    PolicyDocumentList,
    PolicyDocumentOut,
    ReceiptOut,
    RegenerateRequest,
)
from polis.motor.models import (
    Customer,
    CustomerVehicle,
    MotorPayment,
    MotorPolicy,
    PolicyDocument,
)
from polis.platform.errors import BusinessRuleError, NotFound
from polis.reference.service import get_config

PDF_MIME = "application/pdf"
TEMPLATE_VERSION = 1  # bump when a layout below changes (template_version of new rows)

TITLES = {
    ("SCHEDULE", "th"): "ตารางกรมธรรม์ประกันภัยรถยนต์",
    ("SCHEDULE", "en"): "Motor Insurance Policy Schedule",
    ("CERTIFICATE", "th"): "หนังสือรับรองการประกันภัยตาม พ.ร.บ. คุ้มครองผู้ประสบภัยจากรถ",
    ("CERTIFICATE", "en"): "Compulsory Motor Insurance (CMI) Certificate",
    ("RECEIPT", "th"): "ใบเสร็จรับเงิน/ใบกำกับภาษี",
    ("RECEIPT", "en"): "Receipt / Tax Invoice",
}
POLICY_TYPES = {
    "th": {
        "CMI": "ประกันภัยรถยนต์ภาคบังคับ (พ.ร.บ.)",
        "CLASS_1": "ประกันภัยรถยนต์ภาคสมัครใจ ประเภท 1",
        "CLASS_2": "ประกันภัยรถยนต์ภาคสมัครใจ ประเภท 2",
        "CLASS_3": "ประกันภัยรถยนต์ภาคสมัครใจ ประเภท 3",
    },
    "en": {
        "CMI": "Compulsory Motor Insurance (CMI)",
        "CLASS_1": "Voluntary motor insurance, class 1",
        "CLASS_2": "Voluntary motor insurance, class 2",
        "CLASS_3": "Voluntary motor insurance, class 3",
    },
}
L = {
    "th": {
        "policy_number": "เลขที่กรมธรรม์",
        "policy_type": "ประเภทกรมธรรม์",
        "insured": "ผู้เอาประกันภัย",
        "address": "ที่อยู่",
        "vehicle": "รถยนต์",
        "registration": "ทะเบียนรถ",
        "chassis": "เลขตัวถัง",
        "engine": "ขนาดเครื่องยนต์",
        "usage": "การใช้รถ",
        "period": "ระยะเวลาประกันภัย",
        "from_to": "ตั้งแต่วันที่ {start} ถึงวันที่ {end}",
        "cover": "ความคุ้มครอง",
        "premium": "เบี้ยประกันภัย",
        "item": "รายการ",
        "amount_baht": "จำนวนเงิน (บาท)",
        "base_premium": "เบี้ยประกันภัยพื้นฐาน",
        "discount": "ส่วนลด",
        "net_premium": "เบี้ยประกันภัยสุทธิ",
        "stamp_duty": "อากรแสตมป์",
        "vat": "ภาษีมูลค่าเพิ่ม 7%",
        "total": "เบี้ยประกันภัยรวม",
        "payment_plan": "การชำระเบี้ย",
        "issued": "วันที่ออกเอกสาร",
        "oic_code": "รหัสรถ (คปภ.)",
        "seller": "ผู้ขาย / ผู้ให้บริการ",
        "buyer": "ผู้ซื้อ / ผู้รับบริการ",
        "tax_id": "เลขประจำตัวผู้เสียภาษีอากร",
        "branch": "สาขา",
        "invoice_number": "เลขที่ใบกำกับภาษี",
        "invoice_date": "วันที่",
        "description": "รายการ",
        "before_vat": "มูลค่าก่อนภาษีมูลค่าเพิ่ม",
        "grand_total": "จำนวนเงินรวมทั้งสิ้น",
        "in_words": "จำนวนเงิน (ตัวอักษร)",
        "payment": "การชำระเงิน",
        "reference": "เลขอ้างอิง",
        "instalment": "งวดที่ {k} จาก {n}",
        "full": "ชำระเต็มจำนวน",
        "per_person": "ต่อคน",
        "initial": "ค่าเสียหายเบื้องต้น (จ่ายภายใน 7 วัน โดยไม่ต้องรอพิสูจน์ความรับผิด)",
        "after_fault": "เมื่อพิสูจน์แล้วว่าผู้ประสบภัยไม่ได้เป็นฝ่ายผิด (รวมค่าเสียหายเบื้องต้น)",
        "medical": "ค่ารักษาพยาบาล",
        "death": "เสียชีวิต หรือทุพพลภาพถาวร",
        "inpatient": "ค่าชดเชยรายวันกรณีเข้ารักษาเป็นผู้ป่วยใน",
        "per_day": "{amount} บาทต่อวัน ไม่เกิน {days} วัน",
        "statute": "ความคุ้มครองตามพระราชบัญญัติคุ้มครองผู้ประสบภัยจากรถ พ.ศ. 2535",
        "generated": "จัดทำโดยระบบ Polis เมื่อ {at}",
    },
    "en": {
        "policy_number": "Policy number",
        "policy_type": "Policy type",
        "insured": "Insured",
        "address": "Address",
        "vehicle": "Vehicle",
        "registration": "Registration",
        "chassis": "Chassis number",
        "engine": "Engine size",
        "usage": "Usage",
        "period": "Period of insurance",
        "from_to": "From {start} to {end}",
        "cover": "Cover",
        "premium": "Premium",
        "item": "Item",
        "amount_baht": "Amount (THB)",
        "base_premium": "Base premium",
        "discount": "Discount",
        "net_premium": "Net premium",
        "stamp_duty": "Stamp duty",
        "vat": "VAT 7%",
        "total": "Total premium",
        "payment_plan": "Payment plan",
        "issued": "Issued on",
        "oic_code": "Vehicle code (OIC)",
        "seller": "Seller / service provider",
        "buyer": "Buyer / customer",
        "tax_id": "Tax id",
        "branch": "Branch",
        "invoice_number": "Tax invoice number",
        "invoice_date": "Date",
        "description": "Description",
        "before_vat": "Amount before VAT",
        "grand_total": "Total amount",
        "in_words": "Amount in words",
        "payment": "Payment",
        "reference": "Reference",
        "instalment": "Instalment {k} of {n}",
        "full": "Paid in full",
        "per_person": "per person",
        "initial": "Initial payment (within 7 days, without proof of fault)",
        "after_fault": "After the victim is shown not at fault (including the initial payment)",
        "medical": "Medical expenses",
        "death": "Death or permanent disability",
        "inpatient": "Inpatient daily compensation",
        "per_day": "{amount} THB a day, up to {days} days",
        "statute": "Cover under the Road Accident Victims Protection Act B.E. 2535 (1992)",
        "generated": "Generated by Polis at {at}",
    },
}
PLANS = {
    "th": {"FULL": "ชำระครั้งเดียว", "INSTALLMENT_6": "ผ่อน 6 งวด", "INSTALLMENT_12": "ผ่อน 12 งวด"},
    "en": {
        "FULL": "Single payment",
        "INSTALLMENT_6": "6 instalments",
        "INSTALLMENT_12": "12 instalments",
    },
}


class DocumentNotAvailable(BusinessRuleError):
    """The document cannot be made for this policy (field by field, 422)."""

    type_ = "document-not-available"
    title = "Document Not Available"

    def __init__(self, field: str, message: str, kind: str) -> None:
        super().__init__(
            message,
            extra={"errors": [{"field": f"body.{field}", "message": message, "type": kind}]},
        )


# --- formatting ------------------------------------------------------------------------------


def baht(amount: Decimal | str | None) -> str:
    """1234.5 -> '1,234.50' (ROUND_HALF_UP to the satang); '-' for None."""
    if amount is None:
        return "-"
    return pdf.group_digits(Decimal(str(amount)), group=",", decimal=".")


def customer_name(customer: Customer | None, lang: str) -> str:
    """Thai name on Thai documents; the English name (else the Thai one) on English ones."""
    if customer is None:
        return "-"
    if lang == "en" and customer.first_name_en:
        return f"{customer.first_name_en} {customer.last_name_en or ''}".strip()
    return f"{customer.first_name} {customer.last_name}".strip()


def format_address(address: dict[str, Any] | None, lang: str) -> str:
    """A stored customer address on one line, Thai or English conventions."""
    if not address:
        return "-"
    a = {k: (str(v) if v is not None else None) for k, v in address.items()}
    bangkok = a.get("province_code") == "10" or a.get("province") == "กรุงเทพมหานคร"
    if lang == "th":
        parts = [a.get("house_no")]
        parts += [f"หมู่ {a['moo']}" if a.get("moo") else None, a.get("village"), a.get("building")]
        parts += [f"ซอย{a['soi']}" if a.get("soi") else None]
        parts += [f"ถนน{a['road']}" if a.get("road") else None]
        parts += [
            ("แขวง" if bangkok else "ตำบล") + str(a.get("tambon")),
            ("เขต" if bangkok else "อำเภอ") + str(a.get("amphoe")),
            str(a.get("province")) if bangkok else "จังหวัด" + str(a.get("province")),
            a.get("postal_code"),
        ]
        return " ".join(p for p in parts if p)
    parts = [a.get("house_no")]
    parts += [f"Moo {a['moo']}" if a.get("moo") else None, a.get("village"), a.get("building")]
    parts += [f"Soi {a['soi']}" if a.get("soi") else None]
    parts += [f"{a['road']} Road" if a.get("road") else None]
    parts += [
        a.get("tambon_en") or a.get("tambon"),
        a.get("amphoe_en") or a.get("amphoe"),
        f"{a.get('province_en') or a.get('province')} {a.get('postal_code') or ''}".strip(),
    ]
    return ", ".join(p for p in parts if p)


def premium_description(policy: MotorPolicy, payment: MotorPayment, lang: str) -> str:
    """The tax invoice's description line: the cover, the policy and the instalment."""
    kind = POLICY_TYPES["th" if lang == "th" else "en"].get(policy.policy_type, policy.policy_type)
    words = L["th" if lang == "th" else "en"]
    if payment.installment_number is not None and payment.total_installments is not None:
        which = words["instalment"].format(
            k=payment.installment_number, n=payment.total_installments
        )
    else:
        which = words["full"]
    prefix = "เบี้ยประกันภัย" if lang == "th" else "Premium,"
    return f"{prefix} {kind} {words['policy_number']} {policy.policy_number} ({which})"


def _lang(lang: str | None) -> str:
    return "th" if lang == "th" else "en"


def _new(title_key: str, lang: str, subtitle: str, issuer: str) -> pdf.Document:
    return pdf.new_document(
        title=TITLES[(title_key, lang)],
        subtitle=subtitle,
        lang=lang,
        font_path=pdf.SARABUN_REGULAR,
        bold_font_path=pdf.SARABUN_BOLD,
        text_shaping=True,
        issuer=issuer,
    )


def _footer_note(doc: pdf.Document, lang: str, now: datetime) -> None:
    stamp = f"{pdf.long_date(now.date(), lang)} {now.strftime('%H:%M:%S')} UTC"
    pdf.paragraph(doc, L[lang]["generated"].format(at=stamp), size=7)


# --- rendering (pure: rows in, bytes out) ------------------------------------------------------


def render_receipt(view: ReceiptOut, *, now: datetime | None = None) -> bytes:
    """The receipt / full tax invoice in the view's language."""
    lang = _lang(view.display_language)
    w = L[lang]
    doc = _new("RECEIPT", lang, f"{w['invoice_number']} {view.receipt_number}", view.seller.name)
    pdf.heading(doc, w["seller"])
    pdf.key_values(
        doc,
        [
            ("", view.seller.name),
            (w["address"], view.seller.address),
            (w["tax_id"], view.seller.tax_id or "-"),
            (w["branch"], view.seller.branch or "-"),
        ],
    )
    pdf.heading(doc, w["buyer"])
    buyer: list[tuple[str, object]] = [("", view.buyer.name), (w["address"], view.buyer.address)]
    if view.buyer.tax_id:
        buyer.append((w["tax_id"], view.buyer.tax_id))
    pdf.key_values(doc, buyer)
    pdf.heading(doc, TITLES[("RECEIPT", lang)])
    pdf.key_values(
        doc,
        [
            (w["invoice_number"], view.tax_invoice_number or view.receipt_number),
            (w["invoice_date"], view.issued_date_text),
            (w["policy_number"], view.policy_number),
            (w["payment"], f"{view.payment_method} {view.transaction_reference or ''}".strip()),
        ],
    )
    pdf.table(
        doc,
        [w["description"], w["amount_baht"]],
        [
            [view.description, ""],
            [w["net_premium"], baht(view.net_premium)],
            [w["stamp_duty"], baht(view.stamp_duty)],
            [w["before_vat"], baht(view.amount_before_vat)],
            [w["vat"], baht(view.vat_amount)],
            [w["grand_total"], baht(view.amount)],
        ],
        col_widths=(130, 50),
        align=("L", "R"),
        font_size=10,
    )
    pdf.key_values(doc, [(w["in_words"], f"({view.amount_in_words})")])
    _footer_note(doc, lang, now or datetime.now(UTC))
    return pdf.render(doc)


def _vehicle_lines(vehicle: CustomerVehicle | None, lang: str) -> list[tuple[str, object]]:
    w = L[lang]
    if vehicle is None:
        return [(w["vehicle"], "-")]
    return [
        (w["vehicle"], f"{vehicle.make} {vehicle.model} ({vehicle.year_of_manufacture})"),
        (w["registration"], f"{vehicle.registration_number} {vehicle.province}"),
        (w["chassis"], vehicle.chassis_number or "-"),
        (w["engine"], "-" if vehicle.engine_size is None else str(vehicle.engine_size)),
        (w["usage"], vehicle.usage_type or "-"),
    ]


def _policy_lines(
    policy: MotorPolicy, customer: Customer | None, lang: str
) -> list[tuple[str, object]]:
    w = L[lang]
    period = w["from_to"].format(
        start=pdf.long_date(policy.start_date, lang), end=pdf.long_date(policy.end_date, lang)
    )
    return [
        (w["policy_number"], policy.policy_number),
        (w["policy_type"], POLICY_TYPES[lang].get(policy.policy_type, policy.policy_type)),
        (w["insured"], customer_name(customer, lang)),
        (w["address"], format_address(customer.address if customer else None, lang)),
        (w["period"], period),
    ]


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for key, inner in value.items():
            out += _flatten(f"{prefix}.{key}" if prefix else str(key), inner)
        return out
    if isinstance(value, list):
        if not value:
            return []
        return [(prefix, "; ".join(str(v) for v in value))]
    return [] if value is None else [(prefix, str(value))]


_COVER_SKIP = ("premium_breakdown", "cancellation", "quote_number", "rate_table_version", "cover")


def render_schedule(
    policy: MotorPolicy,
    customer: Customer | None,
    vehicle: CustomerVehicle | None,
    lang: str,
    issuer: str,
    *,
    now: datetime | None = None,
) -> bytes:
    """The policy schedule: policy, insured, vehicle, period, cover and premium breakdown."""
    w = L[lang]
    doc = _new("SCHEDULE", lang, f"{w['policy_number']} {policy.policy_number}", issuer)
    pdf.key_values(doc, _policy_lines(policy, customer, lang))
    pdf.heading(doc, w["vehicle"])
    pdf.key_values(doc, _vehicle_lines(vehicle, lang))
    pdf.heading(doc, w["cover"])
    details = {k: v for k, v in (policy.coverage_details or {}).items() if k not in _COVER_SKIP}
    rows = [[k, v] for k, v in _flatten("", details)]
    if rows:
        pdf.table(doc, [w["item"], ""], rows, col_widths=(80, 100), font_size=8)
    if policy.policy_type == "CMI":
        _cmi_cover_table(doc, policy, lang)
    pdf.heading(doc, w["premium"])
    breakdown = (policy.coverage_details or {}).get("premium_breakdown") or {}
    lines = [[w["base_premium"], baht(policy.base_premium)]]
    for item in breakdown.get("discounts", []):
        lines.append([f"{w['discount']}: {item.get('description') or item.get('code')}",
                      "-" + baht(item.get("amount"))])  # fmt: skip
    net = policy.base_premium - (policy.discounts or Decimal("0.00"))
    lines.append([w["net_premium"], baht(net)])
    labels = {"stamp_duty": w["stamp_duty"], "vat": w["vat"]}
    for item in breakdown.get("fees", []):
        code = str(item.get("code"))
        lines.append([labels.get(code, code), baht(item.get("amount"))])
    lines.append([w["total"], baht(policy.total_premium)])
    pdf.table(doc, [w["item"], w["amount_baht"]], lines, col_widths=(130, 50), align=("L", "R"))
    plan = PLANS[lang].get(policy.payment_plan or "FULL", policy.payment_plan or "FULL")
    pdf.key_values(doc, [(w["payment_plan"], plan)])
    _footer_note(doc, lang, now or datetime.now(UTC))
    return pdf.render(doc)


def _cmi_cover_table(doc: pdf.Document, policy: MotorPolicy, lang: str) -> None:
    from polis.motor.rating import CMI_COVER

    w = L[lang]
    cover = (policy.coverage_details or {}).get("cover") or CMI_COVER
    first, after = cover["initial_payment"], cover["after_fault_established"]
    per = w["per_person"]
    pdf.heading(doc, w["statute"])
    pdf.table(
        doc,
        [w["cover"], w["amount_baht"]],
        [
            [w["initial"], ""],
            [f"  {w['medical']} ({per})", baht(first["medical_per_person"])],
            [f"  {w['death']} ({per})", baht(first["death_or_disability_per_person"])],
            [w["after_fault"], ""],
            [f"  {w['medical']} ({per})", baht(after["medical_per_person"])],
            [f"  {w['death']} ({per})", baht(after["death_or_disability_per_person"])],
            [
                f"  {w['inpatient']}",
                w["per_day"].format(
                    amount=baht(after["inpatient_daily_compensation"]),
                    days=after["inpatient_days_max"],
                ),
            ],
        ],
        col_widths=(120, 60),
        align=("L", "R"),
        font_size=9,
    )


def render_certificate(
    policy: MotorPolicy,
    customer: Customer | None,
    vehicle: CustomerVehicle | None,
    lang: str,
    issuer: str,
    *,
    now: datetime | None = None,
) -> bytes:
    """The CMI certificate: the policy, the vehicle and the statutory cover amounts."""
    w = L[lang]
    doc = _new("CERTIFICATE", lang, f"{w['policy_number']} {policy.policy_number}", issuer)
    pdf.key_values(doc, _policy_lines(policy, customer, lang))
    oic = (policy.coverage_details or {}).get("oic_code")
    pdf.key_values(doc, [*_vehicle_lines(vehicle, lang), (w["oic_code"], oic or "-")])
    pdf.key_values(doc, [(w["total"], f"{baht(policy.total_premium)}")])
    _cmi_cover_table(doc, policy, lang)
    _footer_note(doc, lang, now or datetime.now(UTC))
    return pdf.render(doc)


# --- storage and rows --------------------------------------------------------------------------


def _store() -> DocumentStore:
    return DocumentStore.from_settings(get_settings())


def receipt_file_name(receipt_number: str, lang: str) -> str:
    """receipt-RC-2026-0000001-th.pdf"""
    return f"receipt-{receipt_number}-{_lang(lang)}.pdf"


def _file_name(document_type: str, policy_number: str, lang: str) -> str:
    kind = {"SCHEDULE": "schedule", "CERTIFICATE": "cmi-certificate"}[document_type]
    return f"{kind}-{policy_number}-{_lang(lang)}.pdf"


async def _record(
    session: AsyncSession,
    policy: MotorPolicy,
    document_type: str,
    name: str,
    lang: str,
    data: bytes,
    user_id: uuid.UUID | None,
) -> PolicyDocument:
    """Store the bytes and add version n+1 of the document called `name`. Callers hold the
    policy's row lock, so two versions never get the same number."""
    stored = _store().put(data)
    latest = await session.scalar(
        select(func.max(PolicyDocument.version_number)).where(
            PolicyDocument.policy_id == policy.id, PolicyDocument.document_name == name
        )
    )
    row = PolicyDocument(
        policy_id=policy.id,
        document_type=document_type,
        document_name=name,
        file_path=stored.relative_path,
        file_size=stored.size,
        mime_type=PDF_MIME,
        language=_lang(lang),
        is_official=True,
        version_number=int(latest or 0) + 1,
        generated_at=func.clock_timestamp(),
        template_version=TEMPLATE_VERSION,
        created_by=user_id,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def store_receipt(
    session: AsyncSession, policy: MotorPolicy, view: ReceiptOut, *, user_id: uuid.UUID | None
) -> PolicyDocument:
    """Render the receipt and record it as a RECEIPT document version."""
    data = render_receipt(view)
    name = receipt_file_name(view.receipt_number, view.display_language)
    return await _record(session, policy, "RECEIPT", name, view.display_language, data, user_id)


def read_or_render_receipt(file_path: str | None, row_lang: str | None, view: ReceiptOut) -> bytes:
    """The stored PDF when it is in the language asked for, else a fresh rendering."""
    if file_path and _lang(row_lang) == view.display_language:
        return _store().read(sha256_of_path(file_path))
    return render_receipt(view)


async def _context(
    session: AsyncSession, policy: MotorPolicy
) -> tuple[Customer | None, CustomerVehicle | None, str]:
    customer = await session.get(Customer, policy.customer_id)
    vehicle = await session.get(CustomerVehicle, policy.vehicle_id)
    return customer, vehicle, str(await get_config(session, "MOTOR_INSURER_NAME_EN"))


async def generate(
    session: AsyncSession,
    policy: MotorPolicy,
    document_type: str,
    lang: str,
    *,
    user_id: uuid.UUID | None,
) -> PolicyDocument:
    """Render a SCHEDULE or CERTIFICATE and record it as the next version."""
    if document_type == "CERTIFICATE" and policy.policy_type != "CMI":
        raise DocumentNotAvailable(
            "document_type",
            f"policy {policy.policy_number} is {policy.policy_type}: CMI certificates are for"
            " CMI policies",
            "not_cmi",
        )
    customer, vehicle, issuer = await _context(session, policy)
    if lang == "th":
        issuer = str(await get_config(session, "MOTOR_INSURER_NAME_TH"))
    render = render_schedule if document_type == "SCHEDULE" else render_certificate
    data = render(policy, customer, vehicle, _lang(lang), issuer)
    name = _file_name(document_type, policy.policy_number, lang)
    return await _record(session, policy, document_type, name, lang, data, user_id)


ISSUED_STATUSES = ("ACTIVE", "SUSPENDED", "EXPIRED")


async def _missing(session: AsyncSession, policy: MotorPolicy) -> tuple[bool, list[Any]]:
    """(schedule due and not stored, receipt rows of the policy without a stored PDF)."""
    from polis.motor.models import PaymentReceipt

    receipts_due = list(
        (
            await session.execute(
                select(PaymentReceipt)
                .join(MotorPayment, MotorPayment.id == PaymentReceipt.payment_id)
                .where(MotorPayment.policy_id == policy.id, PaymentReceipt.file_path.is_(None))
                .order_by(PaymentReceipt.receipt_number)
            )
        ).scalars()
    )
    schedule_due = False
    if policy.status in ISSUED_STATUSES or receipts_due:
        found = await session.scalar(
            select(PolicyDocument.id)
            .where(
                PolicyDocument.policy_id == policy.id, PolicyDocument.document_type == "SCHEDULE"
            )
            .limit(1)
        )
        schedule_due = found is None
    return schedule_due, receipts_due


async def ensure_documents(
    session: AsyncSession, policy: MotorPolicy, *, user_id: uuid.UUID | None = None
) -> list[PolicyDocument]:
    """Render and store version 1 of every document due for the policy and not stored yet
    (lazy rendering, decision 0049 "Amended"): the schedule and, for CMI, the certificate in
    the customer's language once the policy has been issued (ACTIVE, SUSPENDED, EXPIRED, or
    paid), and the PDF of each receipt row without one (in the row's language). Called by the
    document and receipt reads. A cheap check first; when something is due the policy row is
    locked (SELECT ... FOR UPDATE) and the check repeated, so two concurrent first reads render
    once: the second waits for the first's commit and then finds the rows."""
    schedule_due, receipts_due = await _missing(session, policy)
    if not schedule_due and not receipts_due:
        return []
    await session.execute(
        select(MotorPolicy.id).where(MotorPolicy.id == policy.id).with_for_update()
    )
    await session.refresh(policy)
    for row in receipts_due:
        await session.refresh(row)
    schedule_due, receipts_due = await _missing(session, policy)
    made: list[PolicyDocument] = []
    if schedule_due:
        customer = await session.get(Customer, policy.customer_id)
        lang = _lang((customer.preferred_language if customer else None) or "th")
        made.append(await generate(session, policy, "SCHEDULE", lang, user_id=user_id))
        if policy.policy_type == "CMI":
            made.append(await generate(session, policy, "CERTIFICATE", lang, user_id=user_id))
    if receipts_due:
        from polis.motor import receipts

        for row in receipts_due:
            made.append(await receipts.store_receipt_pdf(session, policy, row, user_id=user_id))
    return made


# --- reads and the regenerate service ------------------------------------------------------------


def document_out(row: PolicyDocument) -> PolicyDocumentOut:
    """The API view of a document row."""
    return PolicyDocumentOut(
        id=row.id,
        policy_id=row.policy_id,
        document_type=row.document_type,
        document_name=row.document_name,
        file_size=row.file_size,
        mime_type=row.mime_type,
        language=row.language,
        is_official=row.is_official,
        version_number=row.version_number,
        generated_at=row.generated_at,
        template_id=row.template_id,
        template_version=row.template_version,
        created_at=row.created_at,
        created_by=row.created_by,
        sha256=sha256_of_path(row.file_path),
    )


async def _policy(session: AsyncSession, policy_number: str, *, lock: bool = False) -> MotorPolicy:
    stmt = select(MotorPolicy).where(
        MotorPolicy.policy_number == policy_number, MotorPolicy.deleted_at.is_(None)
    )
    if lock:
        stmt = stmt.with_for_update()
    policy = (await session.execute(stmt)).scalar_one_or_none()
    if policy is None:
        raise NotFound(f"Policy {policy_number} does not exist.")
    return policy


async def list_documents(session: AsyncSession, policy_number: str) -> PolicyDocumentList:
    """Every version newest first, and the latest version of each document name (the
    documents due and not rendered yet are rendered first: ensure_documents)."""
    policy = await _policy(session, policy_number)
    await ensure_documents(session, policy)
    rows = (
        await session.execute(
            select(PolicyDocument)
            .where(PolicyDocument.policy_id == policy.id)
            .order_by(
                PolicyDocument.document_type,
                PolicyDocument.document_name,
                PolicyDocument.version_number.desc(),
            )
        )
    ).scalars()
    history = [document_out(r) for r in rows]
    latest: dict[str, PolicyDocumentOut] = {}
    for doc in history:
        latest.setdefault(doc.document_name, doc)
    history.sort(key=lambda d: d.generated_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    return PolicyDocumentList(
        policy_number=policy.policy_number, latest=list(latest.values()), history=history
    )


async def get_document(
    session: AsyncSession, policy_number: str, document_id: uuid.UUID
) -> tuple[PolicyDocument, bytes]:
    """A document row of the policy and its stored bytes; NotFound otherwise."""
    policy = await _policy(session, policy_number)
    await ensure_documents(session, policy)
    row = await session.scalar(
        select(PolicyDocument).where(
            PolicyDocument.id == document_id, PolicyDocument.policy_id == policy.id
        )
    )
    if row is None:
        raise NotFound(
            f"Document {document_id} of policy {policy_number} not found.",
            type_="document-not-found",
        )
    return row, _store().read(sha256_of_path(row.file_path))


async def regenerate(
    session: AsyncSession,
    policy_number: str,
    body: RegenerateRequest,
    *,
    user_id: uuid.UUID | None,
) -> PolicyDocument:
    """Render a document again as version n+1 (the policy row locked meanwhile)."""
    policy = await _policy(session, policy_number, lock=True)
    await ensure_documents(session, policy, user_id=user_id)
    if body.document_type == "RECEIPT":
        if body.payment_id is None:
            raise DocumentNotAvailable(
                "payment_id", "a RECEIPT needs the payment_id whose receipt to render", "missing"
            )
        from polis.motor import receipts

        doc: PolicyDocument = await receipts.regenerate_receipt(
            session, policy, body.payment_id, body.language, user_id=user_id
        )
        return doc
    return await generate(session, policy, body.document_type, body.language, user_id=user_id)
