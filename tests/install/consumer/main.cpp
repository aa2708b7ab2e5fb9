// Loads and validates a config with moedil's library, as another tool would: prints the model
// and the number of domains, exit 0; a bad config prints moedil's error, exit 2.
#include <iostream>

#include "moedil/common/error.h"
#include "moedil/config/load.h"
#include "moedil/train/experiment.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: consumer CONFIG\n";
    return 2;
  }
  try {
    const moedil::config::RunConfig c =
        moedil::config::load_run_config(argv[1], {}, moedil::train::name_catalog());
    std::cout << "model " << c.model.name << ", " << c.num_partitions << " domains\n";
  } catch (const moedil::Error& e) {
    std::cerr << e.what() << "\n";
    return 2;
  }
  return 0;
}
