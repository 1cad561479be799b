import { isEnumType, isInputObjectType, isInterfaceType, isIntrospectionType, isObjectType, isSpecifiedScalarType } from "graphql";
import { schema } from "/work/wt-api/src/schema/index.ts";
const missing: string[] = [];
const has = (d: string | null | undefined) => typeof d === "string" && d.trim().length > 0;
for (const type of Object.values(schema.getTypeMap())) {
  if (isIntrospectionType(type) || isSpecifiedScalarType(type)) continue;
  if (!has(type.description)) missing.push(type.name);
  if (isObjectType(type) || isInterfaceType(type)) {
    for (const field of Object.values(type.getFields())) {
      if (!has(field.description)) missing.push(`${type.name}.${field.name}`);
      for (const arg of field.args) if (!has(arg.description)) missing.push(`${type.name}.${field.name}(${arg.name})`);
    }
  } else if (isInputObjectType(type)) {
    for (const field of Object.values(type.getFields())) if (!has(field.description)) missing.push(`${type.name}.${field.name}`);
  } else if (isEnumType(type)) {
    for (const value of type.getValues()) if (!has(value.description)) missing.push(`${type.name}.${value.name}`);
  }
}
console.log(missing.length); console.log(missing.join("\n"));
