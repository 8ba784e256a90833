#ifndef ORCHESTRATOR_CMONGOC_SHIM_H
#define ORCHESTRATOR_CMONGOC_SHIM_H
#include <bson/bson.h>
#include <mongoc/mongoc.h>
#endif
