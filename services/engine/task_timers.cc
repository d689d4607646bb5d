// Task: the SLA and due-date timers a customer's open tickets and invoices need (task.h).
#include "services/engine/task.h"

namespace c360 {

void Task::WantedTimers(const Entry& entry) {
  // The deadlines this customer still waits on: unanswered / unresolved tickets whose SLA
  // has not breached, unpaid invoices not yet overdue. As views into the state, sorted.
  std::vector<TimerView>& wanted = timer_scratch_;
  wanted.clear();
  for (const TicketState& t : entry.state.tickets()) {
    if (t.created == kNoTime) continue;
    if (t.first_response == kNoTime && !t.response_breached && t.response_due != kNoTime) {
      wanted.push_back({t.response_due, &t.id, kResponseTimer});
    }
    if (t.first_resolved == kNoTime && !t.resolution_breached && t.resolution_due != kNoTime) {
      wanted.push_back({t.resolution_due, &t.id, kResolutionTimer});
    }
  }
  for (const InvoiceState& i : entry.state.invoices()) {
    if (i.due != kNoTime && !i.voided && i.balance() > 0 && !i.overdue_alerted) {
      wanted.push_back({i.due, &i.id, kInvoiceTimer});
    }
  }
  std::sort(wanted.begin(), wanted.end(), [](const TimerView& a, const TimerView& b) {
    if (a.deadline != b.deadline) return a.deadline < b.deadline;
    if (*a.entity != *b.entity) return *a.entity < *b.entity;
    return a.kind < b.kind;
  });
}

void Task::SyncTimers(Entry& entry) {
  // Compared as views first: this runs for every ticket and invoice event, and the set
  // rarely changes.
  WantedTimers(entry);
  const std::vector<TimerView>& wanted = timer_scratch_;
  const bool same =
      wanted.size() == entry.timers.size() &&
      std::equal(wanted.begin(), wanted.end(), entry.timers.begin(),
                 [](const TimerView& v, const Timer& t) {
                   return v.deadline == t.deadline && v.kind == t.kind && *v.entity == t.entity_id;
                 });
  if (same) return;
  std::vector<Timer> next;
  next.reserve(wanted.size());
  const std::string& id = entry.state.customer_id();
  for (const TimerView& v : wanted) next.push_back({v.deadline, id, *v.entity, v.kind});
  const auto key = [this](const Timer& t) {
    return state::TimerKey{id_, t.deadline, t.customer_id, t.entity_id, t.kind};
  };
  for (const Timer& t : entry.timers) {
    if (!std::binary_search(next.begin(), next.end(), t)) {
      timers_.erase(t);
      timer_ops_.emplace_back(false, key(t));
    }
  }
  for (const Timer& t : next) {
    if (!std::binary_search(entry.timers.begin(), entry.timers.end(), t)) {
      timers_.insert(t);
      timer_ops_.emplace_back(true, key(t));
    }
  }
  entry.timers = std::move(next);
}

}  // namespace c360
