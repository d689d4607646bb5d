"""An independent oracle of the engine's end state (docs/reliability.md): reads the input
topics with confluent-kafka and computes, from SPEC sections 1-3 alone, what every
customer's state must hold — usage total, the event_ids applied per ticket, invoice and
campaign, the csat ratings, the credit hold, whether it has a profile and events — in the
shape `c360_state_dump` prints, so that the engine's state can be compared exactly.

A campaign with neither a SENT nor an engagement is dropped by the engine's pruning at the
customer's next day change (no KPI can see it; state/customer_state.cc): such campaigns
are left out of the comparison on both sides (`invisible`).

It assumes a workload of valid events within the windows (no record older than 89 days
before the end, none in the future): what `c360 gen` produces. Anything else is the
decoder's business, which the poison tests check on their own."""

from collections import defaultdict

from confluent_kafka import Consumer, TopicPartition

from c360.v1 import campaign_pb2, customer_pb2, invoice_pb2, ticket_pb2, usage_pb2

TOPICS = {
    "c360.usage": usage_pb2.UsageEvent,
    "c360.tickets": ticket_pb2.TicketEvent,
    "c360.invoices": invoice_pb2.InvoiceEvent,
    "c360.campaigns": campaign_pb2.CampaignEvent,
    "c360.customers": customer_pb2.CustomerProfile,
}
POISON = "x-poison"  # header of records a test made bad on purpose (skipped)
HOLD = (invoice_pb2.InvoiceEvent.CREDIT_HOLD_SET, invoice_pb2.InvoiceEvent.CREDIT_HOLD_RELEASED)
RATED = (ticket_pb2.TicketEvent.RESOLVED, ticket_pb2.TicketEvent.CLOSED)
C = campaign_pb2.CampaignEvent
ENGAGED = (C.OPENED, C.CLICKED, C.RESPONDED, C.CONVERTED)


def read_topic(bootstrap, topic):
    """Every record of `topic`: (partition, offset, key, value, headers as a dict), each
    partition's in offset order (one customer's records share a partition, so a redelivered
    event_id comes after its original)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "c360-oracle",
                  "enable.auto.commit": False, "log_level": 3,
                  "queued.min.messages": 1_000_000, "fetch.wait.max.ms": 50})
    try:
        partitions = c.list_topics(topic, timeout=10).topics[topic].partitions
        ends = {p: c.get_watermark_offsets(TopicPartition(topic, p), timeout=10) for p in partitions}
        wanted = {p: hi for p, (lo, hi) in ends.items() if hi > lo}
        c.assign([TopicPartition(topic, p, ends[p][0]) for p in wanted])
        out, done = [], {p: ends[p][0] for p in wanted}
        while any(done[p] < wanted[p] for p in wanted):
            for m in c.consume(10_000, timeout=1.0):
                if m.error():
                    continue
                out.append((m.partition(), m.offset(), m.key(), m.value(), dict(m.headers() or [])))
                done[m.partition()] = m.offset() + 1
        return out
    finally:
        c.close()


def expected_state(bootstrap):
    """({customer_id: {"usage_total", "entities", "ratings", "credit_hold", "profile",
    "has_events"}}, invisible campaigns) — the fields of c360_state_dump's customer lines."""
    usage = defaultdict(int)
    entities = defaultdict(lambda: defaultdict(set))  # customer -> entity -> event_ids
    ratings = defaultdict(int)                         # customer -> csat values applied
    hold = {}                                          # customer -> (event time, set?)
    profile = {}
    has_events = set()
    visible = set()                                    # (customer, campaign) sent or engaged
    campaign_ids = defaultdict(set)
    for topic, message_type in TOPICS.items():
        for _, _, key, value, headers in read_topic(bootstrap, topic):
            if POISON in headers:
                continue  # a bad record the test injected: the dead-letter topic's business
            if topic == "c360.customers":
                profile[key.decode()] = value is not None
                continue
            e = message_type.FromString(value)
            cid = e.customer_id
            has_events.add(cid)
            if topic == "c360.usage":
                usage[cid] += e.quantity or 1
            elif topic == "c360.invoices" and e.kind in HOLD:
                when = e.event_time.ToMilliseconds()
                if cid not in hold or when >= hold[cid][0]:
                    hold[cid] = (when, e.kind == invoice_pb2.InvoiceEvent.CREDIT_HOLD_SET)
            else:
                entity = {"c360.tickets": "ticket_id", "c360.invoices": "invoice_id",
                          "c360.campaigns": "campaign_id"}[topic]
                applied = entities[cid][getattr(e, entity)]
                first = e.event_id not in applied  # else a redelivery: changes nothing
                applied.add(e.event_id)
                if topic == "c360.campaigns":
                    campaign_ids[cid].add(e.campaign_id)
                if first and topic == "c360.campaigns" and e.kind in ENGAGED + (C.SENT,):
                    visible.add((cid, e.campaign_id))
                rated = (topic == "c360.tickets" and e.kind in RATED) or topic == "c360.campaigns"
                if first and rated and e.HasField("csat"):
                    ratings[cid] += 1
    customers = set(has_events) | {c for c, present in profile.items() if present}
    invisible = {(cid, k) for cid in entities for k in entities[cid]
                 if k in campaign_ids[cid] and (cid, k) not in visible}
    return {cid: {"usage_total": usage[cid],
                  "entities": {k: len(v) for k, v in entities[cid].items() if (cid, k) not in invisible},
                  "ratings": ratings[cid],
                  "credit_hold": hold.get(cid, (0, False))[1],
                  "profile": profile.get(cid, False),
                  "has_events": cid in has_events}
            for cid in customers}, invisible


def actual_state(dump, invisible):
    """The same fields from c360_state_dump's customer lines (customers that exist)."""
    out = {}
    for d in dump:
        if d["kind"] != "customer" or not (d["has_events"] or d["profile"]):
            continue
        fields = {k: d[k] for k in ("usage_total", "entities", "ratings", "credit_hold",
                                    "profile", "has_events")}
        fields["entities"] = {k: n for k, n in d["entities"].items()
                              if (d["customer_id"], k) not in invisible}
        out[d["customer_id"]] = fields
    return out
