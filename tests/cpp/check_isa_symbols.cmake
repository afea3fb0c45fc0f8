# CTest: an object compiled with one CPU level's flags must define no symbol outside
# that level's namespace (torchpool::cpu::<level>::); otherwise the linker could merge
# an AVX-512 copy of an inline function into the scalar level's code.
#   cmake -DNM=<nm> -DLEVEL=<level> -DOBJECTS=<a;b;...> -P check_isa_symbols.cmake
foreach(obj IN LISTS OBJECTS)
  execute_process(COMMAND ${NM} -C --defined-only ${obj} OUTPUT_VARIABLE out RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm failed on ${obj}")
  endif()
  string(REPLACE "\n" ";" lines "${out}")
  foreach(line IN LISTS lines)
    # global, weak or unique symbols of code or data; local ones (t, d, b, r) cannot clash
    if(line MATCHES "^[0-9a-f]+ [TWVuDBR] (.*)$")
      set(sym "${CMAKE_MATCH_1}")
      # DW.ref.*: the compiler's pointer to the C++ exception personality, the same everywhere
      if(NOT sym MATCHES "torchpool::cpu::${LEVEL}::" AND NOT sym MATCHES "^DW\\.ref\\.")
        message(FATAL_ERROR "${obj} (${LEVEL}) defines ${sym} outside torchpool::cpu::${LEVEL}")
      endif()
    endif()
  endforeach()
endforeach()
message(STATUS "${LEVEL}: every symbol is inside torchpool::cpu::${LEVEL}")
