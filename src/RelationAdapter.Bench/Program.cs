using System.Reflection;
var t = typeof(Razorvine.Pickle.Unpickler);
foreach (var m in t.GetMembers(BindingFlags.Public|BindingFlags.NonPublic|BindingFlags.Instance|BindingFlags.Static|BindingFlags.DeclaredOnly)) Console.WriteLine(m.MemberType+" "+m + (m is MethodInfo mi && mi.IsVirtual ? " virtual":""));
foreach (var m in typeof(Razorvine.Pickle.IObjectConstructor).GetMembers()) Console.WriteLine(m);
