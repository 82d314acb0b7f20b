package operations

import (
	"fmt"
	"hash/fnv"
)

// Disambiguated is name with a suffix only owner and vm give. Controllers
// name the operations they make <owner>-<vm>-…, so owner "a" of VM "b-c"
// and owner "a-b" of VM "c" make the same name; the second to come takes
// this one, which it alone makes, and which a restart makes again.
func Disambiguated(name, owner, vm string) string {
	h := fnv.New32a()
	h.Write([]byte(owner + "/" + vm))
	return fmt.Sprintf("%s-%08x", name, h.Sum32())
}
