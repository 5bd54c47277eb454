from ledger import Ledger

delivered = """{"topic": "delivery_status", "timestamp": "1641513098",
  "sender": {"id": "+16044441111", "channelType": "whatsapp"},
  "recipient": {"id": "+16044551234", "channelType": "whatsapp"},
  "statusUpdate": {"id": "01FRRWW2ZAHD9GJ1SWY4VF2GBD", "status": "delivered", "error": null}}"""
failed = {"topic": "delivery_status", "timestamp": 1641512856,
  "sender": {"id": "+16044441111", "channelType": "whatsapp"},
  "recipient": {"id": "+60445551234", "channelType": "whatsapp"},
  "statusUpdate": {"id": "01FRRWMSAMKNFZAMBPQ65CA7DD", "status": "delivery_failed", "error": {
    "message": "Message template inputs invalid", "type": "ERROR_TYPE_INVALID_REQUEST",
    "code": "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID", "cntTraceId": "10827968052975079261"}}}

with Ledger.open("sqlite://") as ledger:  # in memory; "sqlite:///ledger.db" for a file
    ledger.record_sent("01FRRWW2ZAHD9GJ1SWY4VF2GBD", sender="+16044441111", recipient="+16044551234")
    print(ledger.ingest(delivered).kind)  # applied
    print(ledger.ingest(delivered).kind)  # duplicate: a retry changes nothing
    print(ledger.ingest(failed).kind)     # applied: a webhook may beat the send response
    view = ledger.message("01FRRWMSAMKNFZAMBPQ65CA7DD")
    print(view.status, view.error.code, view.error.trace_id)
    for entry in ledger.history("01FRRWW2ZAHD9GJ1SWY4VF2GBD"):
        print(entry.version, entry.event, entry.stage, entry.outcome)
