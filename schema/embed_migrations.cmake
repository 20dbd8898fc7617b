# Writes OUTPUT, a C++ file defining deja::schema::Migrations() from FILES.
set(body "")
foreach(file IN LISTS FILES)
  get_filename_component(name ${file} NAME_WE)
  string(REGEX MATCH "^[0-9]+" version ${name})
  math(EXPR version "${version}")
  file(READ ${file} sql)
  string(APPEND body "      {${version}, \"${name}\", R\"deja_sql(${sql})deja_sql\"},\n")
endforeach()
file(WRITE ${OUTPUT}.tmp "// Generated from schema/*.sql by embed_migrations.cmake.
#include \"schema/migrations.h\"

namespace deja::schema {

const std::vector<Migration>& Migrations() {
  static const std::vector<Migration> kMigrations = {
${body}  };
  return kMigrations;
}

}  // namespace deja::schema
")
file(COPY_FILE ${OUTPUT}.tmp ${OUTPUT} ONLY_IF_DIFFERENT)
