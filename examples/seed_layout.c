/*
 * The program of the first seed article ("Linux: Process In Memory"): where a process's segments end and
 * where its named objects lie. `memsim layout --aslr 0 PROGRAM` prints the same first part for the model,
 * so with ASLR off (`setarch -R ./seed_layout`) the two agree line for line.
 *
 *   gcc -O0 -pie    -o seed_layout     examples/seed_layout.c
 *   gcc -O0 -no-pie -o seed_layout_np  examples/seed_layout.c
 *   setarch -R ./seed_layout;  memsim layout --aslr 0 ./seed_layout
 *
 * The linker defines etext, edata and end as the first byte past the text, initialized data and bss
 * (man 3 end). The break is read with sbrk(0) before anything can allocate: the first printf allocates
 * stdout's buffer with malloc, which moves the break.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern char etext, edata, end;

int a = 1;                  /* initialized global: .data */
int b;                      /* uninitialized global: .bss */
static int c = 3;           /* initialized static: .data */
static int d;               /* uninitialized static: .bss */
char *s = "Hello World!!!"; /* the pointer in .data, the literal in .rodata */

int main(void)
{
    void *brk0 = sbrk(0);
    static int e = 5; /* initialized function-scope static: .data (symbol e.N) */
    static int f;     /* uninitialized function-scope static: .bss (symbol f.N) */
    int g = 7;        /* a local: the stack */
    char *p = malloc(16); /* the heap */

    /* Every object is used so that -O2 keeps it. */
    b = a + c + e + g;
    d = b + 1;
    f = d + 1;

    printf("Next byte past:\n");
    printf("    etext      %p\n", (void *)&etext);
    printf("    edata      %p\n", (void *)&edata);
    printf("    end        %p\n", (void *)&end);
    printf("Program Break:\n");
    printf("    brk        %p\n", brk0);
    /* The seed's order: a, b, c, d, e, f, g, s, p; then where the literal itself lies. */
    printf("Objects:\n");
    printf("    a          %p\n", (void *)&a);
    printf("    b          %p\n", (void *)&b);
    printf("    c          %p\n", (void *)&c);
    printf("    d          %p\n", (void *)&d);
    printf("    e          %p\n", (void *)&e);
    printf("    f          %p\n", (void *)&f);
    printf("    g          %p\n", (void *)&g);
    printf("    s          %p\n", (void *)&s);
    printf("    p          %p\n", (void *)p);
    printf("    *s         %p\n", (void *)s);
    free(p);
    return 0;
}
