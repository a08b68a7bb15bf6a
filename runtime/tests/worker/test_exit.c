/* test_exit.c - the exit code of a VM load failure (worker/exit.h). */
#include "base/rp.h"
#include "tests/check.h"
#include "worker/exit.h"
#include "worker/vm.h"

static void load_errors_map_to_their_codes(void)
{
  CHECK_INT(3, rp_exit_for_load(RP_VM_ENOFILE));
  CHECK_INT(4, rp_exit_for_load(RP_VM_ESYNTAX));
  CHECK_INT(5, rp_exit_for_load(RP_VM_ESCRIPT));
  CHECK_INT(6, rp_exit_for_load(RP_VM_ENOSTART));
  CHECK_INT(7, rp_exit_for_load(RP_VM_ECONFIG));
}

static void anything_else_is_internal(void)
{
  CHECK_INT(70, rp_exit_for_load(RP_ENOMEM));
  CHECK_INT(70, rp_exit_for_load(RP_ELUA));
  CHECK_INT(70, rp_exit_for_load(-1000));
}

int main(void)
{
  RUN(load_errors_map_to_their_codes);
  RUN(anything_else_is_internal);
  return check_summary();
}
