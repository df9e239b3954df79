/*
 * postdrop - main of the set-group-id maildrop helper (logic in postdrop.c).
 * Installed setgid setgid_group only by a root install (top-level rules).
 */
#include "queue/postdrop.h"

int main(int argc, char **argv)
{
    return postdrop_run(argc, argv);
}
