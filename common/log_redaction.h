#pragma once
// The one place log lines meet the Redactor: a sink in front of the default spdlog
// logger's sinks, so that every line logged afterwards (librdkafka's, relayed by the
// engine's log and error callbacks, included) has the config's secrets replaced by
// [redacted] before it is written.

#include "common/kafka_properties.h"

namespace c360 {

// Installs `redactor` in front of the default logger's sinks. Call at start-up, before other
// threads log (spdlog's sink list is not guarded); a second call adds a second redactor.
void RedactLogs(Redactor redactor);

}  // namespace c360
