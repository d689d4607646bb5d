#include "scoring/rules.h"

#include <openssl/evp.h>

#include "common/decimal.h"
#include "common/url.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace c360 {
namespace {

using v1::AlertEvent;

AlertEvent::Severity Raise(AlertEvent::Severity s) {
  return s == AlertEvent::INFO ? AlertEvent::WARNING : AlertEvent::CRITICAL;
}

std::string Signed(int32_t v) { return (v > 0 ? "+" : "") + std::to_string(v); }

class Evaluator {
 public:
  Evaluator(CustomerState& state, const CoreKpis& k, const Scores& s, const RuleContext& ctx,
            std::vector<AlertEvent>* out)
      : state_(state), k_(k), s_(s), ctx_(ctx), out_(out) {
    const auto& profile = state.profile();
    vip_ = profile && profile->annual_revenue_cents() >= ctx.config.vip_revenue_cents;
    churned_ = s.lifecycle == v1::Lifecycle::CHURNED;
  }

  void Run() {
    const Config& c = ctx_.config;
    using R = AlertEvent;
    // HEALTH_LOW: with escalation to CRITICAL below `escalate`.
    const RuleConfig& hl = c.rule(R::HEALTH_LOW);
    Episode(
        R::HEALTH_LOW, true, s_.health < hl.fire, s_.health >= hl.resolve, s_.health, hl.fire,
        s_.health < hl.escalate ? R::CRITICAL : hl.severity,
        [&] {
          return "Health of " + Who() + " is " + std::to_string(s_.health) + ", below " +
                 Fixed(hl.fire, 0) + TopDriver();
        },
        [&] { return "Health of " + Who() + " is back to " + std::to_string(s_.health) + "."; });
    RuleState& health_rule = state_.rules()[R::HEALTH_LOW];
    if (hl.enabled && !churned_ && health_rule.firing && health_rule.severity < R::CRITICAL &&
        s_.health < hl.escalate) {
      health_rule.severity = R::CRITICAL;
      Emit(R::HEALTH_LOW, R::FIRING, R::CRITICAL, std::to_string(health_rule.episode),
           health_rule.episode, s_.health, hl.escalate,
           "Health of " + Who() + " fell to " + std::to_string(s_.health) + ", below " +
               Fixed(hl.escalate, 0) + TopDriver());
    }

    const RuleConfig& cr = c.rule(R::CHURN_RISK_HIGH);
    Episode(
        R::CHURN_RISK_HIGH, true, s_.risk >= cr.fire, s_.risk < cr.resolve, s_.risk, cr.fire,
        cr.severity,
        [&] {
          return "Churn risk of " + Who() + " is " + std::to_string(s_.risk) + "%" + TopDriver();
        },
        [&] { return "Churn risk of " + Who() + " is down to " + std::to_string(s_.risk) + "%."; });

    // Compared exactly in integers: drop >= t  <=>  100 (prior - cur) >= t prior.
    const RuleConfig& ud = c.rule(R::USAGE_DROP);
    const int64_t prior = k_.usage_prior_r30d;
    const int64_t drop_x100 = 10'000 * (prior - k_.usage_r30d);
    Episode(
        R::USAGE_DROP, prior >= ud.min_sample, drop_x100 >= Hundredths(ud.fire) * prior,
        drop_x100 < Hundredths(ud.resolve) * prior, k_.usage_drop_pct, ud.fire, ud.severity,
        [&] {
          return "Usage of " + Who() + " is down " + Fixed(k_.usage_drop_pct, 0) +
                 "% vs the prior 30 days (" + std::to_string(k_.usage_r30d) + " vs " +
                 std::to_string(prior) + " events).";
        },
        [&] {
          return "Usage of " + Who() + " recovered: down only " + Fixed(k_.usage_drop_pct, 0) +
                 "% vs the prior 30 days.";
        });

    const RuleConfig& cs = c.rule(R::CSAT_LOW);
    const int64_t sum_x100 = 100 * k_.csat_sum_r90d;
    const double csat = k_.csat_avg_r90d.value_or(0);
    Episode(
        R::CSAT_LOW, k_.ratings_r90d >= cs.min_sample,
        sum_x100 < Hundredths(cs.fire) * k_.ratings_r90d,
        sum_x100 >= Hundredths(cs.resolve) * k_.ratings_r90d, csat, cs.fire, cs.severity,
        [&] {
          return "CSAT of " + Who() + " averages " + Fixed(csat, 2) + " over " +
                 std::to_string(k_.ratings_r90d) + " ratings in 90 days.";
        },
        [&] { return "CSAT of " + Who() + " is back to " + Fixed(csat, 2) + "."; });

    const RuleConfig& rt = c.rule(R::RESPONSE_TIME_HIGH);
    const double hours = k_.avg_response_hours_r30d.value_or(0);
    Episode(
        R::RESPONSE_TIME_HIGH, k_.responses_r30d >= rt.min_sample, hours > rt.fire,
        hours <= rt.resolve, hours, rt.fire, rt.severity,
        [&] {
          return "First responses to " + Who() + " take " + Fixed(hours, 1) +
                 " hours on average (" + std::to_string(k_.responses_r30d) +
                 " tickets in 30 days).";
        },
        [&] {
          return "First responses to " + Who() + " are back to " + Fixed(hours, 1) +
                 " hours on average.";
        });

    if (ctx_.entities_changed) {
      SlaBreaches();
      OverdueInvoices();
    }
    Renewal();

    const RuleConfig& hd = c.rule(R::HEALTH_DROP);
    const int32_t change = k_.health_change_7d.value_or(0);
    Episode(
        R::HEALTH_DROP, k_.health_change_7d.has_value(), change <= hd.fire, change > hd.resolve,
        change, hd.fire, hd.severity,
        [&] {
          return "Health of " + Who() + " fell " + std::to_string(-change) +
                 " points in 7 days, to " + std::to_string(s_.health) + TopDriver();
        },
        [&] {
          return "Health of " + Who() + " has recovered: " + Signed(change) +
                 " points over 7 days.";
        });

    // Compared exactly in integers, as USAGE_DROP.
    const RuleConfig& au = c.rule(R::ACTIVE_USERS_DROP);
    const int64_t users_prior = k_.active_users_prior_r30d;
    const int64_t users_drop_x100 = 10'000 * (users_prior - k_.active_users_r30d);
    const double users_drop = std::max(0.0, -k_.active_users_change_pct);
    Episode(
        R::ACTIVE_USERS_DROP, users_prior >= au.min_sample,
        users_drop_x100 >= Hundredths(au.fire) * users_prior,
        users_drop_x100 < Hundredths(au.resolve) * users_prior, users_drop, au.fire, au.severity,
        [&] {
          return "Active users of " + Who() + " are down " + Fixed(users_drop, 0) +
                 "% vs the prior 30 days (" + std::to_string(k_.active_users_r30d) + " vs " +
                 std::to_string(users_prior) + ").";
        },
        [&] {
          return "Active users of " + Who() +
                 " recovered: " + std::to_string(k_.active_users_r30d) + " vs " +
                 std::to_string(users_prior) + " in the prior 30 days.";
        });

    // An obligation, not health: it goes on for a CHURNED customer.
    const RuleConfig& ch = c.rule(R::CREDIT_HOLD);
    Episode(
        R::CREDIT_HOLD, true, k_.credit_hold, !k_.credit_hold, k_.credit_hold ? 1 : 0, ch.fire,
        ch.severity, [&] { return "The account of " + Who() + " is on credit hold."; },
        [&] { return "The credit hold on the account of " + Who() + " was released."; },
        /*health=*/false);

    const RuleConfig& np = c.rule(R::NPS_DETRACTOR);
    const int32_t nps = k_.nps_latest.value_or(0);
    Episode(
        R::NPS_DETRACTOR, k_.nps_latest.has_value(), nps <= np.fire, nps >= np.resolve, nps,
        np.fire, np.severity,
        [&] {
          return "The latest NPS answer of " + Who() + " is " + std::to_string(nps) +
                 ": a detractor.";
        },
        [&] {
          return "The latest NPS answer of " + Who() + " is " + std::to_string(nps) +
                 ": no longer a detractor.";
        });
  }

 private:
  // A customer-level rule with hysteresis; the key of its alert_id is the episode number.
  // Texts are built only when an alert is emitted: this runs on every re-score.
  // A health rule (`health`) has no episodes while the customer is CHURNED: an open one
  // resolves, none opens (SPEC section 5).
  template <typename FireText, typename ResolveText>
  void Episode(AlertEvent::Rule rule, bool sample_ok, bool fire, bool resolve, double observed,
               double threshold, AlertEvent::Severity severity, FireText fire_text,
               ResolveText resolve_text, bool health = true) {
    const RuleConfig& rc = ctx_.config.rule(rule);
    if (!rc.enabled) return;
    RuleState& rs = state_.rules()[rule];
    if (health && churned_) {
      if (rs.firing) ResolveChurned(rule, rs, observed, rc.resolve);
      return;
    }
    if (!sample_ok) return;
    if (!rs.firing && fire) {
      rs.firing = true;
      ++rs.episode;
      rs.severity = vip_ ? Raise(severity) : severity;
      Emit(rule, AlertEvent::FIRING, static_cast<AlertEvent::Severity>(rs.severity),
           std::to_string(rs.episode), rs.episode, observed, threshold, fire_text());
    } else if (rs.firing && resolve) {
      rs.firing = false;
      Emit(rule, AlertEvent::RESOLVED, static_cast<AlertEvent::Severity>(rs.severity),
           std::to_string(rs.episode), rs.episode, observed, rc.resolve, resolve_text());
    }
  }

  void SlaBreaches() {
    const RuleConfig& rc = ctx_.config.rule(AlertEvent::SLA_BREACH);
    if (!rc.enabled) return;
    for (TicketState& t : state_.mutable_tickets()) {
      if (!(t.response_breached && !t.response_alerted) &&
          !(t.resolution_breached && !t.resolution_alerted)) {
        continue;
      }
      const AlertEvent::Severity base = t.priority == 1   ? AlertEvent::CRITICAL
                                        : t.priority == 2 ? AlertEvent::WARNING
                                                          : rc.severity;
      const AlertEvent::Severity severity = vip_ ? Raise(base) : base;
      const std::string priority = t.priority > 0 ? "P" + std::to_string(t.priority) + " " : "";
      // One alert per ticket and SLA kind; `done` is the response / resolution, if any.
      const auto breach = [&](bool breached, bool* alerted, TimeMs due, TimeMs done,
                              AlertEvent::SlaKind kind) {
        if (!breached || *alerted) return;
        *alerted = true;
        const bool response = kind == AlertEvent::RESPONSE;
        const double due_h = static_cast<double>(due - t.created) / kMsPerHour;
        const double took_h =
            static_cast<double>((done != kNoTime ? done : ctx_.stream_time) - t.created) /
            kMsPerHour;
        const char* what =
            done != kNoTime ? (response ? " got its first response after " : " was resolved after ")
                            : (response ? " has had no response for " : " is unresolved after ");
        Emit(AlertEvent::SLA_BREACH, AlertEvent::FIRING, severity,
             t.id + (response ? "/response" : "/resolution"), 1, took_h, due_h,
             priority + "ticket " + t.id + " of " + Who() + what + Fixed(took_h, 1) +
                 " hours; the SLA is " + Fixed(due_h, 1) + " hours.",
             t.id, kind);
      };
      breach(t.response_breached, &t.response_alerted, t.response_due, t.first_response,
             AlertEvent::RESPONSE);
      breach(t.resolution_breached, &t.resolution_alerted, t.resolution_due, t.first_resolved,
             AlertEvent::RESOLUTION);
    }
  }

  void OverdueInvoices() {
    const RuleConfig& rc = ctx_.config.rule(AlertEvent::INVOICE_OVERDUE);
    if (!rc.enabled) return;
    constexpr int64_t kCriticalAmountCents = 10'000'000;
    for (InvoiceState& i : state_.mutable_invoices()) {
      const bool overdue =
          !i.voided && i.due != kNoTime && i.due <= ctx_.deadline_horizon && i.balance() > 0;
      const double amount = static_cast<double>(i.amount_cents) / 100.0;
      if (overdue && !i.overdue_alerted) {
        i.overdue_alerted = true;
        AlertEvent::Severity s =
            i.amount_cents >= kCriticalAmountCents ? AlertEvent::CRITICAL : rc.severity;
        if (vip_) s = Raise(s);
        const int32_t days = k_.day - static_cast<int32_t>(DayOf(i.due));
        Emit(AlertEvent::INVOICE_OVERDUE, AlertEvent::FIRING, s, i.id, 1,
             static_cast<double>(i.balance()) / 100.0, amount,
             "Invoice " + i.id + " of " + Who() + " is overdue" +
                 (days > 0 ? " by " + std::to_string(days) + " days" : "") + " with " +
                 Fixed(static_cast<double>(i.balance()) / 100.0, 2) + " unpaid.",
             i.id);
      } else if (i.overdue_alerted && !i.overdue_resolved && (i.voided || i.balance() == 0)) {
        i.overdue_resolved = true;
        AlertEvent::Severity s =
            i.amount_cents >= kCriticalAmountCents ? AlertEvent::CRITICAL : rc.severity;
        if (vip_) s = Raise(s);
        Emit(AlertEvent::INVOICE_OVERDUE, AlertEvent::RESOLVED, s, i.id, 1, 0, amount,
             "Invoice " + i.id + " of " + Who() + (i.voided ? " was voided." : " is paid in full."),
             i.id);
      }
    }
  }

  // Closes the open episode of a health rule of a CHURNED customer.
  void ResolveChurned(AlertEvent::Rule rule, RuleState& rs, double observed, double threshold) {
    rs.firing = false;
    const auto& profile = state_.profile();
    const std::string on = profile && profile->has_churned_on()
                               ? " on " + FormatDate(StartOfDay(DayOf(ToMs(profile->churned_on()))))
                               : "";
    const std::string key = rule == AlertEvent::RENEWAL_DUE ? rs.key() : std::to_string(rs.episode);
    Emit(rule, AlertEvent::RESOLVED, static_cast<AlertEvent::Severity>(rs.severity), key,
         rs.episode, observed, threshold,
         Who() + " churned" + on + ": the " + AlertEvent::Rule_Name(rule) + " episode is closed.",
         rule == AlertEvent::RENEWAL_DUE ? key : "");
  }

  void Renewal() {
    const RuleConfig& rc = ctx_.config.rule(AlertEvent::RENEWAL_DUE);
    if (!rc.enabled) return;
    RuleState& rs = state_.rules()[AlertEvent::RENEWAL_DUE];
    if (churned_) {
      // The date alerted for stays used; one that comes within the window meanwhile does not.
      if (rs.firing) ResolveChurned(AlertEvent::RENEWAL_DUE, rs, 0, rc.fire);
      return;
    }
    const auto& profile = state_.profile();
    const bool has_end = profile && profile->has_contract_end();
    const TimeMs end = has_end ? StartOfDay(DayOf(ToMs(profile->contract_end()))) : kNoTime;
    // Dates are formatted only when the rule acts; this runs on every re-score.
    if (rs.firing && (!has_end || StartOfDay(rs.key_day) != end)) {
      rs.firing = false;
      const std::string now_end = has_end ? FormatDate(end) : "";
      const std::string was_end = rs.key();
      Emit(AlertEvent::RENEWAL_DUE, AlertEvent::RESOLVED,
           static_cast<AlertEvent::Severity>(rs.severity), was_end, rs.episode, 0, rc.fire,
           "The contract end of " + Who() + " moved from " + was_end +
               (now_end.empty() ? "." : " to " + now_end + "."),
           was_end);
    }
    if (!has_end || !k_.days_to_renewal || *k_.days_to_renewal > rc.fire ||
        (rs.key_day != kNoDay && StartOfDay(rs.key_day) == end)) {
      return;
    }
    const std::string contract_end = FormatDate(end);
    rs.firing = true;
    rs.key_day = static_cast<int32_t>(DayOf(end));
    ++rs.episode;
    AlertEvent::Severity s =
        s_.risk_level == v1::HealthSnapshot::LOW ? rc.severity : AlertEvent::WARNING;
    if (vip_) s = Raise(s);
    rs.severity = s;
    Emit(AlertEvent::RENEWAL_DUE, AlertEvent::FIRING, s, contract_end, rs.episode,
         *k_.days_to_renewal, rc.fire,
         "The contract of " + Who() + " ends on " + contract_end + ", in " +
             std::to_string(*k_.days_to_renewal) + " days; churn risk is " +
             std::to_string(s_.risk) + "%.",
         contract_end);
  }

  // The customer as a person names it: the profile's name, else the id.
  const std::string& Who() const {
    const auto& profile = state_.profile();
    return profile && !profile->name().empty() ? profile->name() : state_.customer_id();
  }
  const std::string& Name() const {
    static const std::string kNone;
    return state_.profile() ? state_.profile()->name() : kNone;
  }

  std::string TopDriver() const {
    if (s_.drivers.empty()) return ".";
    return ": " + DriverText(s_.drivers.front().component, k_) + ".";
  }

  void Emit(AlertEvent::Rule rule, AlertEvent::State state, AlertEvent::Severity severity,
            const std::string& key, int32_t episode, double observed, double threshold,
            const std::string& message, const std::string& entity = "",
            AlertEvent::SlaKind sla_kind = AlertEvent::SLA_KIND_UNSPECIFIED) {
    AlertEvent& a = out_->emplace_back();
    a.set_alert_id(AlertId(state_.customer_id(), rule, key));
    a.set_customer_id(state_.customer_id());
    a.set_customer_name(Name());
    a.set_rule(rule);
    a.set_state(state);
    a.set_severity(severity);
    a.set_message(message);
    a.set_observed_value(observed);
    a.set_threshold(threshold);
    a.set_entity_id(entity);
    a.set_sla_kind(sla_kind);
    a.set_episode(episode);
    a.set_vip(vip_);
    a.set_health(s_.health);
    a.set_risk(s_.risk);
    a.set_status(s_.status);
    FillDrivers(s_, k_, a.mutable_drivers());
    a.set_recommended_action(ctx_.config.rule(rule).action);
    *a.mutable_stream_time() = ToTimestamp(ctx_.stream_time);
    *a.mutable_event_time() = ToTimestamp(ctx_.cause.event_time);
    *a.mutable_emitted_at() = ToTimestamp(ctx_.emitted_at);
    a.set_source_topic(std::string(ctx_.cause.source_topic));
    a.set_source_partition(ctx_.cause.source_partition);
    a.set_source_offset(ctx_.cause.source_offset);
    if (const auto& profile = state_.profile()) {
      a.set_segment(profile->segment());
      a.set_industry(profile->industry());
      a.set_region(profile->region());
      a.set_owner(profile->owner());
      a.set_annual_revenue_cents(profile->annual_revenue_cents());
    }
    a.set_lifecycle_stage(s_.lifecycle);
    a.set_url(CustomerUrl(ctx_.config.public_url, state_.customer_id()));
  }

  CustomerState& state_;
  const CoreKpis& k_;
  const Scores& s_;
  const RuleContext& ctx_;
  std::vector<AlertEvent>* out_;
  bool vip_ = false;
  bool churned_ = false;
};

}  // namespace

std::string AlertId(std::string_view customer_id, AlertEvent::Rule rule, std::string_view key) {
  std::string input;
  input.reserve(customer_id.size() + key.size() + 24);
  input.append(customer_id).append("|").append(AlertEvent::Rule_Name(rule)).append("|").append(key);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(16, '0');
  for (int i = 0; i < 8; ++i) {
    id[2 * i] = kHex[digest[i] >> 4];
    id[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return id;
}

std::array<int32_t, kRuleCount> FiringCounts(const CustomerState& state) {
  std::array<int32_t, kRuleCount> counts{};
  for (int r = 1; r < kRuleCount; ++r) {
    if (r == AlertEvent::SLA_BREACH || r == AlertEvent::INVOICE_OVERDUE) continue;
    if (state.rules()[r].firing) counts[r] = 1;
  }
  for (const TicketState& t : state.tickets()) {
    if (!t.open()) continue;
    counts[AlertEvent::SLA_BREACH] += (t.response_alerted ? 1 : 0) + (t.resolution_alerted ? 1 : 0);
  }
  for (const InvoiceState& i : state.invoices()) {
    if (i.overdue_alerted && !i.overdue_resolved) ++counts[AlertEvent::INVOICE_OVERDUE];
  }
  return counts;
}

void EvaluateRules(CustomerState& state, const CoreKpis& kpis, const Scores& scores,
                   const RuleContext& ctx, std::vector<v1::AlertEvent>* out) {
  Evaluator(state, kpis, scores, ctx, out).Run();
}

}  // namespace c360
