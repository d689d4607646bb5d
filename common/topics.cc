#include "common/topics.h"

namespace c360 {

const std::string& TopicNames::Input(InputTopic topic) const {
  switch (topic) {
    case InputTopic::kInvoices: return invoices;
    case InputTopic::kTickets: return tickets;
    case InputTopic::kCampaigns: return campaigns;
    case InputTopic::kUsage: return usage;
    case InputTopic::kCustomers: return customers;
  }
  return usage;  // unreachable: the switch covers every enumerator
}

std::optional<InputTopic> TopicNames::InputByName(std::string_view name) const {
  for (InputTopic topic : kAllInputTopics) {
    if (Input(topic) == name) return topic;
  }
  return std::nullopt;
}

std::string_view InputTopicLabel(InputTopic topic) {
  switch (topic) {
    case InputTopic::kInvoices: return "invoices";
    case InputTopic::kTickets: return "tickets";
    case InputTopic::kCampaigns: return "campaigns";
    case InputTopic::kUsage: return "usage";
    case InputTopic::kCustomers: return "customers";
  }
  return "unknown";
}

}  // namespace c360
