// Array element conformances of Foundation types.

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension UUID: PGArrayScalar {}
extension Date: PGArrayScalar {}
extension Data: PGArrayScalar {}
extension Decimal: PGArrayScalar {}
