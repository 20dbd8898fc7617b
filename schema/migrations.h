#ifndef DEJA_SCHEMA_MIGRATIONS_H_
#define DEJA_SCHEMA_MIGRATIONS_H_

// The SQL files of schema/, compiled in, in version order.

#include <vector>

namespace deja::schema {

struct Migration {
  int version;       // from the file name: 0001_init.sql -> 1
  const char* name;  // "0001_init"
  const char* sql;   // the whole file; one transaction applies it
};

const std::vector<Migration>& Migrations();

}  // namespace deja::schema

#endif  // DEJA_SCHEMA_MIGRATIONS_H_
