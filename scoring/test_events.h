#pragma once
// Builders for scoring tests: events at a given time, with SPEC-valid defaults.

#include <string>

#include "c360/v1/campaign.pb.h"
#include "c360/v1/customer.pb.h"
#include "c360/v1/invoice.pb.h"
#include "c360/v1/ticket.pb.h"
#include "c360/v1/usage.pb.h"
#include "common/time.h"

namespace c360::testing {

// 2026-03-01T00:00:00Z, a Sunday, day 20513.
inline const TimeMs kDay0 = *ParseDate("2026-03-01");
inline TimeMs At(int day, int hour = 12) { return kDay0 + day * kMsPerDay + hour * kMsPerHour; }

inline v1::UsageEvent Usage(const std::string& module = "reports", int64_t quantity = 1) {
  v1::UsageEvent e;
  e.set_customer_id("cust-1");
  e.set_module(module);
  e.set_quantity(quantity);
  return e;
}

inline v1::TicketEvent Ticket(const std::string& event_id, const std::string& ticket_id,
                              v1::TicketEvent::Kind kind,
                              v1::TicketEvent::Priority priority = v1::TicketEvent::P3) {
  v1::TicketEvent e;
  e.set_event_id(event_id);
  e.set_customer_id("cust-1");
  e.set_ticket_id(ticket_id);
  e.set_kind(kind);
  e.set_priority(priority);
  return e;
}

inline v1::InvoiceEvent Invoice(const std::string& event_id, const std::string& invoice_id,
                                v1::InvoiceEvent::Kind kind) {
  v1::InvoiceEvent e;
  e.set_event_id(event_id);
  e.set_customer_id("cust-1");
  e.set_invoice_id(invoice_id);
  e.set_kind(kind);
  return e;
}

inline v1::CampaignEvent Campaign(const std::string& event_id, const std::string& campaign_id,
                                  v1::CampaignEvent::Kind kind) {
  v1::CampaignEvent e;
  e.set_event_id(event_id);
  e.set_customer_id("cust-1");
  e.set_campaign_id(campaign_id);
  e.set_kind(kind);
  return e;
}

}  // namespace c360::testing
