/* version.h: the version gensupd and gensupctl print (--version, status).
 * Its own header so that gensupctl needs nothing of gensupd's to say it. */
#ifndef GENSUP_VERSION_H
#define GENSUP_VERSION_H

#define GENSUP_VERSION "0.1.0"

#endif
