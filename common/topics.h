#pragma once
// The topics of SPEC section 1 and their default names. InputTopic's numeric value is both
// the topic's id in state keys and, for the four event topics, its rank in the
// event-time merge of a task (SPEC section 2: invoices, tickets, campaigns, usage).

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace c360 {

enum class InputTopic : uint8_t {
  kInvoices = 0,
  kTickets = 1,
  kCampaigns = 2,
  kUsage = 3,
  kCustomers = 4,
};
inline constexpr int kInputTopicCount = 5;  // InputTopic's values
inline constexpr std::array<InputTopic, kInputTopicCount> kAllInputTopics = {
    InputTopic::kInvoices, InputTopic::kTickets, InputTopic::kCampaigns, InputTopic::kUsage,
    InputTopic::kCustomers};

struct TopicNames {
  std::string usage = "c360.usage";
  std::string tickets = "c360.tickets";
  std::string invoices = "c360.invoices";
  std::string campaigns = "c360.campaigns";
  std::string customers = "c360.customers";
  std::string alerts = "c360.alerts";
  std::string health = "c360.health";
  std::string deadletter = "c360.deadletter";
  // Internal: partition p holds task p's state changes and commit markers (SPEC 6.4).
  std::string changelog = "c360.changelog";
  // `c360 notify`'s (SPEC section 11): alerts it could not deliver. Not the engine's.
  std::string notify_deadletter = "c360.notify.deadletter";

  const std::string& Input(InputTopic topic) const;
  std::optional<InputTopic> InputByName(std::string_view name) const;
  // Every topic, inputs first, then outputs, then the changelog.
  std::array<std::string, 9> All() const {
    return {usage, tickets, invoices, campaigns, customers, alerts, health, deadletter, changelog};
  }
};

// Short name used in logs and metric labels: "usage", "tickets", ...
std::string_view InputTopicLabel(InputTopic topic);

}  // namespace c360
