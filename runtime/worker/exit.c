/* exit.c - see exit.h. */
#include "worker/exit.h"

#include "worker/vm.h"

enum rp_exit rp_exit_for_load(int rc)
{
  switch (rc) {
  case RP_VM_ENOFILE: return RP_EXIT_NO_SCRIPT;
  case RP_VM_ESYNTAX: return RP_EXIT_SYNTAX;
  case RP_VM_ESCRIPT: return RP_EXIT_SCRIPT_ERROR;
  case RP_VM_ENOSTART: return RP_EXIT_NO_START;
  case RP_VM_ECONFIG: return RP_EXIT_BAD_CONFIG;
  default: return RP_EXIT_INTERNAL;
  }
}
